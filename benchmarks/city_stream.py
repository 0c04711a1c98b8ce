"""A city's open tickets as events in TICKETS, for the ticket phases of benchmarks/city.py.

Each ticket is placed by the router's own routing over the generated city (a pool of
real decisions at random points, reused round-robin), then written as the events an
open, dispatched ticket has in the stream: `TicketSubmitted` (intake), `TicketDispatched`
(router), `SlaClockArmed` (sla, the resolution clock), and its encrypted contact entry
(the record as first stored, as intake keeps it at submit). Submission times spread over
the last 60 days, so a month's report spans 30 days of counters; a tenth of the clocks
are already past their deadline (overdue).

Published asynchronously in batches: hundreds of thousands of events in a minute or two.
"""

import random
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.fernet import MultiFernet
from nats.js import JetStreamContext

from chuishao.common import subjects
from chuishao.common.commands import Reporter
from chuishao.common.domain import Channel, ClockKind, Level, Location, Priority, Role, Whistle
from chuishao.common.events import Event, SlaClockArmed, TicketDispatched, TicketSubmitted
from chuishao.common.publishing import encode, event_headers
from chuishao.common.streams import declare_streams
from chuishao.intake.contacts import BUCKET, ContactEntry, ContactStore
from chuishao.intake.projection import created
from chuishao.intake.ticket_ids import format_id
from chuishao.router.decision import RoutingRequest
from chuishao.router.directory import Directory
from chuishao.router.plugins_manager import Dispatcher, plugin_manager

DAYS = 60
BUSIEST_SHARE = 20
BATCH = 5_000
CHANNELS = list(Channel)


@dataclass(frozen=True)
class Placement:
    """One routing decision: where a ticket is and who was summoned."""

    long: float
    lat: float
    category: str
    street: str | None
    grid: str | None
    unit_id: str
    unit_name: str
    level: Level
    whistle: Whistle
    priority: Priority
    reason: str


# What the routing decision chose, under the names the dispatch gives them too.
ROUTED = ("unit_id", "unit_name", "level", "whistle", "category", "priority", "reason", "street")


def placements(directory: Directory, count: int, seed: int) -> list[Placement]:
    """`count` real routing decisions at random points of the city's grids."""
    rng = random.Random(seed)  # noqa: S311 — sample points, not secrets
    dispatcher = Dispatcher(plugin_manager(), directory)
    categories = [c.code for c in dispatcher.categories()]
    grids = [g for g in directory.document.grids if g.polygon]
    names = {unit.id: unit.name for unit in directory.document.units}
    found: list[Placement] = []
    attempts = 0
    while len(found) < count and attempts < count * 3:
        attempts += 1
        ring = rng.choice(grids).polygon or ()
        xs, ys = [x for x, _ in ring], [y for _, y in ring]
        location = Location(long=rng.uniform(min(xs), max(xs)), lat=rng.uniform(min(ys), max(ys)))
        place = directory.locate(location)
        category = categories[attempts % len(categories)]
        decision = dispatcher.decide(
            RoutingRequest(
                ticket_id=f"P{attempts}",
                category=category,
                description="",
                priority=Priority.NORMAL,
                location=location,
                place=place,
            )
        )
        if decision is None or location.long is None or location.lat is None:
            continue
        found.append(
            Placement(
                long=location.long,
                lat=location.lat,
                category=category,
                street=place.street if place else None,
                grid=place.grid if place else None,
                unit_id=decision.lead,
                unit_name=names.get(decision.lead, decision.lead),
                level=decision.level,
                whistle=decision.whistle,
                priority=decision.priority,
                reason=decision.reason,
            )
        )
    # Routing reaches the units of some functions only (grid stations, street offices…);
    # the board must show every unit of the city, so each unit no decision chose leads
    # tickets at a routed place too.
    # First in the pool, so that even a small run reaches every unit.
    reached = {placement.unit_id for placement in found}
    unreached = [unit for unit in directory.document.units if unit.id not in reached]
    extra = [
        replace(
            found[i * 7919 % len(found)], unit_id=unit.id, unit_name=unit.name, level=unit.level
        )
        for i, unit in enumerate(unreached)
    ]
    return extra + found


@dataclass(frozen=True)
class Ticket:
    submitted: TicketSubmitted
    events: tuple[Event, ...]


def _envelope(
    ticket_id: str, step: str, at: datetime, producer: str, cause: Event | None = None
) -> dict[str, Any]:
    """The envelope of one of a ticket's events: its id made of the ticket and the step
    (s, d, c), so the same city gives the same ids; the chain's correlation id is the
    report's, each event caused by the one before."""
    return {
        "event_id": f"city-{ticket_id}-{step}",
        "occurred_at": at,
        "ticket_id": ticket_id,
        "correlation_id": f"city-{ticket_id}-s",
        "causation_id": None if cause is None else cause.event_id,
        "producer": producer,
    }


def ticket(n: int, ticket_id: str, at: datetime, placement: Placement, now: datetime) -> Ticket:
    submitted = TicketSubmitted(
        **_envelope(ticket_id, "s", at, "intake"),
        category=placement.category,
        description=f"第{n}号反映：楼下路灯不亮，晚上走路看不见，请尽快处理。",
        priority=placement.priority,
        channel=CHANNELS[n % len(CHANNELS)],
        location=Location(long=placement.long, lat=placement.lat),
        reporter_ref=f"ref-{n % 50_000:05d}",
    )
    dispatched_at = at + timedelta(seconds=2)
    dispatched = TicketDispatched(
        **_envelope(ticket_id, "d", dispatched_at, "router", cause=submitted),
        **{name: getattr(placement, name) for name in ROUTED},
        grid_code=placement.grid,
        role=Role.LEAD,
        description=submitted.description,
        location=submitted.location,
    )
    # One clock in ten already ran out (overdue now); the rest fall due within 30 days.
    due_in = -3600.0 * (1 + n % 48) if n % 10 == 0 else 3600.0 * (1 + n % 720)
    armed = SlaClockArmed(
        **_envelope(ticket_id, "c", dispatched_at + timedelta(seconds=1), "sla", cause=dispatched),
        clock=ClockKind.RESOLUTION,
        level=placement.level,
        unit_id=placement.unit_id,
        limit_seconds=48 * 3600,
        deadline=now + timedelta(seconds=due_in),
    )
    return Ticket(submitted, (submitted, dispatched, armed))


def ticket_ids_and_times(count: int, now: datetime) -> list[tuple[str, datetime]]:
    """Ids of intake's format (T<day><6 digits>) for tickets spread over the last DAYS."""
    start = now - timedelta(days=DAYS)
    step = DAYS * 86_400 / max(count, 1)
    sequence: dict[str, int] = {}
    out = []
    for n in range(count):
        at = start + timedelta(seconds=n * step)
        day = at.strftime("%Y%m%d")
        sequence[day] = sequence.get(day, 0) + 1
        out.append((format_id(day, sequence[day]), at))
    return out


@dataclass
class Published:
    tickets: int
    events: int
    seconds: float
    unit_ids: set[str]
    streets: set[str]


async def publish_city(
    js: JetStreamContext,
    keys: MultiFernet,
    pool: list[Placement],
    count: int,
    now: datetime | None = None,
) -> Published:
    """Declare the streams and fill TICKETS and the contact store with `count` tickets."""
    now = now or datetime.now(UTC)
    await declare_streams(js)
    await ContactStore.open(js, keys)  # the bucket; its entries are published below
    subject_prefix = f"$KV.{BUCKET}."  # what KeyValue.put publishes to
    reporter = Reporter(name="张三", phone="13800138000")
    started = time.perf_counter()
    events = 0
    units: set[str] = set()
    streets: set[str] = set()
    for n, (ticket_id, at) in enumerate(ticket_ids_and_times(count, now)):
        # One ticket in BUSIEST_SHARE goes to the first unit of the pool: the busiest
        # unit's queue (10,000 open at 200,000), for the clerk's queue measurement.
        placement = pool[0] if n % BUSIEST_SHARE == 0 else pool[n % len(pool)]
        units.add(placement.unit_id)
        if placement.street:
            streets.add(placement.street)
        made = ticket(n, ticket_id, at, placement, now)
        entry = ContactEntry(record=created(made.submitted, reporter=reporter))
        await js.publish_async(
            subject_prefix + ticket_id, keys.encrypt(entry.model_dump_json().encode())
        )
        for event in made.events:
            await js.publish_async(
                subjects.for_event(event), encode(event), headers=event_headers(event)
            )
            events += 1
        if n % BATCH == BATCH - 1:
            await js.publish_async_completed()
    await js.publish_async_completed()
    return Published(count, events, time.perf_counter() - started, units, streets)
