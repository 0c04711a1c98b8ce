"""Write a new version of the packing dictionaries (chuishao.common.packing) of intake's
ticket records, supervision's ticket facts, sla's ticket states and the router's
routing states.

A dictionary is what records of one kind have in common: here, the stored values of two
made-up tickets taken through each service's own reducers at the stages a ticket passes
(submitted, dispatched to a lead and a co-handler, clocks armed, reported for duty,
progress, resolved, rated, closed), later stages last (DEFLATE reaches the end of a
dictionary with the shortest distances). A written dictionary is never changed: records
were packed with it. Run with the next version number, then add its SHA-256 (printed)
to the kind's `Packing(...)` (its `PACKING`), and roll it out as docs/scaling.md says:

    .venv/bin/python scripts/packing_dictionaries.py --version 2
"""

import argparse
import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from chuishao.common.domain import (
    Channel,
    ClockKind,
    Level,
    Location,
    Priority,
    Rating,
    Role,
    Whistle,
)
from chuishao.common.events import (
    Event,
    SlaClockArmed,
    TicketAcknowledged,
    TicketClosed,
    TicketDispatched,
    TicketProgressNoted,
    TicketRated,
    TicketResolved,
    TicketSubmitted,
)
from chuishao.intake.projection import created, fold_into
from chuishao.router.places import Place
from chuishao.router.state import RoutedUnit, TicketRouting
from chuishao.sla.decisions import TicketState, on_event
from chuishao.sla.policies import PolicyBook
from chuishao.supervision.ticket import SupervisedTicket, apply

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {
    "intake record": ROOT / "services/intake/src/chuishao/intake/data/packing",
    "supervision facts": ROOT / "services/supervision/src/chuishao/supervision/data/packing",
    "sla state": ROOT / "services/sla/src/chuishao/sla/data/packing",
    "router state": ROOT / "services/router/src/chuishao/router/data/packing",
}
ZONE = ZoneInfo("Asia/Shanghai")
MAX_BYTES = 6144
E = TypeVar("E", bound=Event)


def lifecycle(n: int, start: datetime) -> list[Event]:
    ticket_id = f"T{start:%Y%m%d}{n:06d}"
    submitted = TicketSubmitted(
        event_id=f"8f0c6f1e-52a4-5b7e-9c1d-0a3b4c5d6e{n:02d}",
        occurred_at=start,
        ticket_id=ticket_id,
        correlation_id=f"5d2a7c90-1b3e-4f6a-8c9d-7e6f5a4b3c{n:02d}",
        causation_id=None,
        producer="intake",
        category=("road_damage", "street_light")[n % 2],
        description="市民来电反映：小区门口的路面塌陷了一个坑，晚上看不清，希望尽快修复。",
        priority=Priority.NORMAL,
        channel=(Channel.HOTLINE_12345, Channel.SNAP_IT)[n % 2],
        location=Location(long=116.39712, lat=39.90923, grid_code="HY-01"),
        reporter_ref="r-3f9a1c2b7d4e5f60",
    )
    events: list[Event] = [submitted]
    at = start
    for unit_id, role in (("grid-heyuan", Role.LEAD), ("city-mgmt-chaoyang", Role.CO)):
        at += timedelta(seconds=2)
        events.append(
            TicketDispatched.caused_by(
                submitted,
                producer="router",
                occurred_at=at,
                discriminator=unit_id,
                unit_id=unit_id,
                unit_name="和园社区网格站" if role is Role.LEAD else "朝阳区城市管理委员会",
                role=role,
                level=Level.COMMUNITY if role is Role.LEAD else Level.DISTRICT,
                whistle=Whistle.DAILY,
                category=submitted.category,
                priority=submitted.priority,
                description=submitted.description,
                location=submitted.location,
                reason="category rule road_damage: lead city_management",
                street="heyuan-street",
                grid_code="HY-01",
            )
        )
        for clock, hours in ((ClockKind.REPORT_FOR_DUTY, 2), (ClockKind.RESOLUTION, 48)):
            events.append(
                SlaClockArmed.caused_by(
                    events[-1],
                    producer="sla",
                    occurred_at=at + timedelta(seconds=1),
                    discriminator=f"{clock}:{unit_id}",
                    clock=clock,
                    level=Level.COMMUNITY,
                    unit_id=unit_id,
                    limit_seconds=hours * 3600,
                    deadline=at + timedelta(hours=hours),
                )
            )
    lead = events[1]

    def then(kind: type[E], cause: Event, after: timedelta, step: str, **fields: Any) -> E:
        """The ticket's next step, `after` the one before: done through intake, caused by
        `cause`, with an id derived from the cause and the step."""
        nonlocal at
        at += after
        event = kind.caused_by(
            cause, producer="intake", occurred_at=at, discriminator=step, **fields
        )
        events.append(event)
        return event

    then(TicketAcknowledged, lead, timedelta(minutes=20), "ack", unit_id="grid-heyuan")
    then(
        TicketProgressNoted,
        lead,
        timedelta(hours=3),
        "progress",
        unit_id="grid-heyuan",
        note="已到现场查看，设置围挡，安排维修",
    )
    resolved = then(
        TicketResolved,
        lead,
        timedelta(hours=20),
        "resolved",
        units=("grid-heyuan",),
        note="路面已修复",
    )
    then(
        TicketRated,
        resolved,
        timedelta(hours=2),
        "rated",
        rating=Rating.SATISFIED,
        units=("grid-heyuan",),
    )
    then(TicketClosed, resolved, timedelta(0), "closed", reason="rated")
    return events


def routed(events: list[Event]) -> list[str]:
    """The router's state of the ticket once dispatched (it changes only on a decline, a
    reopening, a transfer or an escalation)."""
    submitted = events[0]
    assert isinstance(submitted, TicketSubmitted)
    dispatched = [event for event in events if isinstance(event, TicketDispatched)]
    state = TicketRouting(
        ticket_id=submitted.ticket_id,
        category=submitted.category,
        priority=submitted.priority,
        description=submitted.description,
        location=submitted.location,
        place=Place(
            city="beijing",
            district="chaoyang",
            street="heyuan-street",
            community="heyuan",
            grid="HY-01",
            found_by="grid_code",
        ),
        whistle=Whistle.DAILY,
        assignments=tuple(RoutedUnit(unit_id=e.unit_id, role=e.role) for e in dispatched),
        alternates=("city-mgmt-chaoyang",),
        applied=(submitted.event_id,),
        revision=1,
    )
    return [state.stored_json()]


def stages(kind: str, events: list[Event], book: PolicyBook) -> list[str]:
    """The stored value after the dispatches, after the report for duty, and at the end."""
    if kind == "router state":
        return routed(events)
    marks = {2, 7, len(events)}
    out: list[str] = []
    record = created(events[0]) if isinstance(events[0], TicketSubmitted) else None
    facts: SupervisedTicket | None = None
    state: TicketState | None = None
    for n, event in enumerate(events, start=1):
        if kind == "intake record" and record is not None and n > 1:
            record = fold_into(record, event)
        elif kind == "supervision facts":
            facts = apply(facts, event, ZONE)
        elif kind == "sla state":
            decision = on_event(state, event, book)
            state = decision.state if decision else state
        if n in marks:
            value = {"intake record": record, "supervision facts": facts, "sla state": state}
            stored = value[kind]
            if stored is not None:
                out.append(stored.stored_json())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--version", type=int, required=True)
    parser.add_argument("--kind", choices=sorted(FOLDERS), help="one kind only")
    args = parser.parse_args()
    book = PolicyBook.load()
    start = datetime(2026, 12, 2, 1, 30, tzinfo=UTC)
    tickets = [lifecycle(n, start + timedelta(hours=n)) for n in (1, 2)]
    for kind, folder in FOLDERS.items():
        if args.kind and kind != args.kind:
            continue
        path = folder / f"{args.version}.dict"
        if path.exists():
            raise SystemExit(f"{path} exists: a written dictionary is never changed")
        values = [value for events in tickets for value in stages(kind, events, book)]
        # The tail is what DEFLATE reaches cheaply; a longer dictionary costs time per record.
        data = "".join(values).encode()[-MAX_BYTES:]
        folder.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        digest = hashlib.sha256(data).hexdigest()
        print(f"{kind}: {path.relative_to(ROOT)} {len(data)} B sha256 {digest}")


if __name__ == "__main__":
    main()
