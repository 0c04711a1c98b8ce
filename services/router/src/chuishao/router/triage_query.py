"""The category suggestion for a form being typed (`internal.router.triage`): the console
asks with the words so far, the router answers with triage's best categories and the
danger detector's verdict. Nothing is stored or logged: the words may name a person."""

from collections.abc import Callable
from typing import Any

from faststream.nats import NatsBroker
from pydantic import ValidationError

from chuishao.common import subjects
from chuishao.common.broker import answers_failures, current_message
from chuishao.common.errors import invalid_request, nats_error_reply
from chuishao.common.queries import TriageAnswer, TriageQuery, TriageSuggestion
from chuishao.common.replies import withhold_reply
from chuishao.router import danger
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


def handle(body: bytes, snap: Snapshot) -> dict[str, Any]:
    """The reply to one request: the answer, or the one error shape (`ok: false`)."""
    try:
        query = TriageQuery.model_validate_json(body or b"{}")
    except ValidationError as error:
        return nats_error_reply(invalid_request(error))
    return answer(query, snap).model_dump(mode="json")


def register(broker: NatsBroker, snapshot: Callable[[], Snapshot]) -> None:
    # One queue group: any router replica may answer; answered only on the caller's inbox.
    @broker.subscriber(subjects.ROUTER_TRIAGE, queue="router")
    @answers_failures
    async def on_triage_query() -> dict[str, Any]:
        message = current_message(broker)
        if withhold_reply(message):
            return {}
        return handle(message.body, snapshot())
