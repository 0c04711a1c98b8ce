"""The category suggestion for a form being typed (`internal.router.triage`): the console
asks with the words so far, the router answers with triage's best categories and the
danger detector's verdict. Nothing is stored or logged: the words may name a person."""

from collections.abc import Callable

from faststream.nats import NatsBroker

from chuishao.common import subjects
from chuishao.common.queries import TriageAnswer, TriageQuery, TriageSuggestion
from chuishao.router import asked, danger
from chuishao.router.snapshot import Snapshot

MIN_SHOWN = 0.02


def answer(query: TriageQuery, snap: Snapshot) -> TriageAnswer:
    """Triage's best `limit` categories (only those a plugin serves) and the danger flag."""
    found = snap.triage.classify(query.text)
    ranked = [
        TriageSuggestion(category=s.category, confidence=s.confidence) for s in found.suggestions
    ]
    if not ranked and found.category is not None:  # keywords alone: one category
        ranked = [TriageSuggestion(category=found.category, confidence=found.confidence)]
    assessed = danger.assess(query.text)
    advice = None
    if assessed.message_zh:  # the message is the numbers' sentence, then the advice
        head = danger.message_for(assessed.call, assessed.life_at_risk, ())
        advice = assessed.message_zh.removeprefix(head) or None
    return TriageAnswer(
        # A category at 0 % is no suggestion: only those worth a tap are offered.
        suggestions=tuple(r for r in ranked[: query.limit] if r.confidence >= MIN_SHOWN),
        method=found.method,
        danger=assessed.danger,
        life_at_risk=assessed.life_at_risk,
        call=assessed.call,
        message_zh=assessed.message_zh,
        advice_zh=advice,
    )


def register(broker: NatsBroker, snapshot: Callable[[], Snapshot]) -> None:
    asked.register(broker, subjects.ROUTER_TRIAGE, TriageQuery, answer, snapshot)
