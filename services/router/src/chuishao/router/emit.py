"""The events a routing step emits. Every id derives from the cause and the unit, so a
redelivered cause re-emits the same ids and JetStream drops the repeats."""

from dataclasses import dataclass, field

from chuishao.common.domain import Level, Priority, Role, Whistle
from chuishao.common.events import (
    Event,
    TicketDispatched,
    TicketNeedsManualDispatch,
    WhistleBlown,
)
from chuishao.common.queries import SuggestedCategory
from chuishao.router.decision import RoutingDecision
from chuishao.router.snapshot import PRODUCER, Snapshot
from chuishao.router.state import ManualEntry, TicketRouting
from chuishao.router.triage import Suggestion
from chuishao.router.units import Unit

WHISTLES = (Whistle.COORDINATION, Whistle.EMERGENCY)


@dataclass(frozen=True)
class RoutingResult:
    """What a step decided: events to publish, then the state to save (None: unchanged)."""

    events: list[Event] = field(default_factory=list)
    state: TicketRouting | None = None

    def after(self, *earlier: Event) -> "RoutingResult":
        return RoutingResult([*earlier, *self.events], self.state)


def _clip(text: str, limit: int = 2000) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def dispatch(
    cause: Event,
    state: TicketRouting,
    unit: Unit,
    role: Role,
    reason: str,
    snap: Snapshot,
    *,
    level: Level | None = None,
) -> TicketDispatched:
    assert state.category is not None, "a dispatch needs a category"
    place = state.place
    return TicketDispatched.caused_by(
        cause,
        producer=PRODUCER,
        occurred_at=snap.now(),
        discriminator=unit.id,
        unit_id=unit.id,
        unit_name=unit.name,
        role=role,
        level=level or state.level,
        whistle=state.whistle,
        category=state.category,
        priority=state.priority,
        description=state.description,
        location=state.location,
        media_urls=state.media_urls,
        reason=_clip(reason),
        street=place.street if place else None,
        grid_code=place.grid if place else None,
    )


def summon(
    cause: Event, state: TicketRouting, decision: RoutingDecision, snap: Snapshot
) -> RoutingResult:
    """A routing decision: the whistle if one is blown, then one dispatch per unit."""
    directory = snap.directory
    state = state.model_copy(
        update={
            "level": decision.level,
            "whistle": decision.whistle,
            "priority": decision.priority,
            "alternates": decision.alternates,
            "manual": None,
        }
    )
    roles = [(decision.lead, Role.LEAD), *((unit_id, Role.CO) for unit_id in decision.co)]
    for unit_id, role in roles:
        state = state.with_assignment(unit_id, role)
    events: list[Event] = []
    if decision.whistle in WHISTLES:
        events.append(
            WhistleBlown.caused_by(
                cause,
                producer=PRODUCER,
                occurred_at=snap.now(),
                discriminator="whistle",
                whistle=decision.whistle,
                level=decision.level,
                units=decision.units,
                report_within_seconds=decision.report_within_seconds
                or _report_within(decision.whistle, snap),
                reason=_clip(decision.reason),
            )
        )
    events.extend(
        dispatch(cause, state, directory.unit(unit_id), role, decision.reason, snap)
        for unit_id, role in roles
    )
    return RoutingResult(events, state)


def _danger(priority: Priority, category: str | None, snap: Snapshot) -> Priority:
    """Emergency when the ticket is marked so, or its (suggested) category is a danger
    (emergency_hazard): sla then gives the command centre a shorter dispatch clock."""
    entry = next((c for c in snap.catalogue if c.code == category), None)
    if entry is not None and entry.default_priority == Priority.EMERGENCY:
        return Priority.EMERGENCY
    return priority


def _report_within(whistle: Whistle, snap: Snapshot) -> int:
    if whistle == Whistle.EMERGENCY:
        return snap.policy.emergency_report_within_seconds
    return snap.policy.coordination_report_within_seconds


def to_manual_dispatch(
    cause: Event,
    state: TicketRouting,
    reason: str,
    snap: Snapshot,
    suggestion: Suggestion | None = None,
    arbiter: Unit | None = None,
) -> RoutingResult:
    """Queue the ticket for its street command centre (the district when the street is
    unknown, or when the street itself declined; `arbiter` when an escalation names
    one): nothing is left unowned."""
    arbiter = arbiter or snap.directory.arbiter(state.place, excluding=state.declined)
    category = state.category or (suggestion.category if suggestion else None)
    event = TicketNeedsManualDispatch.caused_by(
        cause,
        producer=PRODUCER,
        occurred_at=snap.now(),
        discriminator="manual",
        category=category,
        reason=_clip(f"{reason} → {arbiter.id}"),
        arbiter_id=arbiter.id,
        level=arbiter.level,
        priority=_danger(state.priority, category, snap),
        street=state.place.street if state.place else None,
    )
    entry = ManualEntry(
        arbiter_id=arbiter.id,
        reason=reason,
        suggested_category=suggestion.category if suggestion else None,
        confidence=suggestion.confidence if suggestion else None,
        suggestions=tuple(
            SuggestedCategory(category=s.category, confidence=s.confidence)
            for s in (suggestion.suggestions if suggestion else ())
        ),
        cause=event,
    )
    return RoutingResult([event], state.model_copy(update={"manual": entry}))
