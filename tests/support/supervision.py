"""A scripted day of ticket events, built the way the services build them, with the rates
it must give worked out by hand (see the comments): supervision's tests replay it through
the pure functions and through the running service."""

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Callable, Hashable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypedDict, TypeVar
from zoneinfo import ZoneInfo

import httpx
import uvicorn
from fastapi import FastAPI
from nats.js import JetStreamContext

from chuishao.common.catalogue import publish_catalogue
from chuishao.common.domain import (
    Channel,
    ClockKind,
    DeclineReason,
    Level,
    Location,
    Priority,
    Rating,
    Role,
    Whistle,
)
from chuishao.common.events import (
    Event,
    ReportLinked,
    SlaBreached,
    SlaClockArmed,
    TicketAcknowledged,
    TicketClosed,
    TicketDeclined,
    TicketDispatched,
    TicketEscalated,
    TicketNeedsManualDispatch,
    TicketRated,
    TicketReopened,
    TicketResolved,
    TicketSubmitted,
    UnitSignedOff,
    WhistleBlown,
)
from chuishao.common.ids import derived_id
from chuishao.common.places import publish_places
from chuishao.common.publishing import publish_event
from chuishao.common.streams import provision
from chuishao.common.tokens import hash_api_key
from chuishao.common.units import publish_units
from chuishao.embedded import free_port
from chuishao.router.directory import Directory
from chuishao.router.document import place_names
from chuishao.router.plugins_manager import Dispatcher, plugin_manager
from chuishao.router.settings import RouterSettings
from chuishao.supervision.app import create_app
from chuishao.supervision.counters import difference
from chuishao.supervision.service import Supervision
from chuishao.supervision.settings import SupervisionSettings
from chuishao.supervision.ticket import SupervisedTicket, apply
from support.servers import Servers

R, RFD = ClockKind.RESOLUTION, ClockKind.REPORT_FOR_DUTY
C = Level.COMMUNITY
# 09:00 in Beijing on Monday 5 January 2026.
START = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)


class Place(TypedDict):
    """Where a scripted dispatch happens: `Script.dispatch(..., **place)`."""

    street: str | None
    category: str


class PlaceInGrid(Place):
    grid: str | None


@dataclass
class Script:
    """Events of several tickets, in the order the stream would hold them."""

    prefix: str = "S"
    events: list[Event] = field(default_factory=list)
    correlation: dict[str, str] = field(default_factory=dict)

    def tid(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def _add(self, kind: type[Event], name: str, hours: float, **fields: Any) -> None:
        ticket_id = self.tid(name)
        event = kind.about(
            # The same script always has the same ids, so a test can send one again.
            event_id=derived_id("script", ticket_id, str(len(self.events))),
            ticket_id=ticket_id,
            correlation_id=self.correlation.setdefault(ticket_id, derived_id("script", ticket_id)),
            producer="script",
            occurred_at=START + timedelta(hours=hours),
            **fields,
        )
        self.events.append(event)

    def submit(
        self,
        name: str,
        hours: float,
        category: str,
        grid: str | None = None,
        *,
        channel: Channel = Channel.SNAP_IT,
        reporter_ref: str | None = None,
        **location: Any,
    ) -> None:
        self._add(
            TicketSubmitted,
            name,
            hours,
            category=category,
            description="scripted",
            priority=Priority.NORMAL,
            channel=channel,
            location=Location(grid_code=grid, **location) if grid else Location(**location),
            reporter_ref=reporter_ref,
        )

    def link(self, name: str, hours: float, duplicate: str, reporter_ref: str | None) -> None:
        """Another report of ticket `name` (its id `duplicate`) joined it (ReportLinked)."""
        self._add(
            ReportLinked,
            name,
            hours,
            duplicate_ticket_id=duplicate,
            distance_m=10.0,
            reporter_ref=reporter_ref,
        )

    def dispatch(
        self,
        name: str,
        hours: float,
        unit: str,
        *,
        category: str,
        street: str | None,
        grid: str | None,
        role: Role = Role.LEAD,
        level: Level = Level.COMMUNITY,
        whistle: Whistle = Whistle.NONE,
    ) -> None:
        self._add(
            TicketDispatched,
            name,
            hours,
            unit_id=unit,
            unit_name=unit,
            role=role,
            level=level,
            whistle=whistle,
            category=category,
            priority=Priority.NORMAL,
            description="scripted",
            location=Location(grid_code=grid or "X"),
            reason="script",
            street=street,
            grid_code=grid,
        )

    def arm(
        self,
        name: str,
        hours: float,
        clock: ClockKind,
        level: Level,
        due: float,
        **kw: Any,
    ) -> None:
        self._add(
            SlaClockArmed,
            name,
            hours,
            clock=clock,
            level=level,
            limit_seconds=round(due * 3600),
            deadline=START + timedelta(hours=hours + due),
            **kw,
        )

    def breach(
        self,
        name: str,
        hours: float,
        clock: ClockKind,
        level: Level,
        due_at: float,
        **kw: Any,
    ) -> None:
        self._add(
            SlaBreached,
            name,
            hours,
            clock=clock,
            level=level,
            deadline=START + timedelta(hours=due_at),
            overdue_seconds=round((hours - due_at) * 3600),
            **kw,
        )

    def ack(self, name: str, hours: float, unit: str) -> None:
        self._add(TicketAcknowledged, name, hours, unit_id=unit)

    def decline(self, name: str, hours: float, unit: str, bounces: int = 1) -> None:
        self._add(
            TicketDeclined,
            name,
            hours,
            unit_id=unit,
            reason_code=DeclineReason.NOT_OUR_RESPONSIBILITY,
            bounces=bounces,
        )

    def sign_off(self, name: str, hours: float, unit: str) -> None:
        self._add(UnitSignedOff, name, hours, unit_id=unit, note="done")

    def resolve(self, name: str, hours: float, *units: str) -> None:
        self._add(TicketResolved, name, hours, units=units, note="done")

    def rate(self, name: str, hours: float, rating: Rating, *units: str) -> None:
        self._add(TicketRated, name, hours, rating=rating, units=units)

    def reopen(self, name: str, hours: float, count: int, *units: str) -> None:
        self._add(
            TicketReopened, name, hours, complaint="still noisy", units=units, reopen_count=count
        )

    def close(self, name: str, hours: float) -> None:
        self._add(TicketClosed, name, hours, reason="rated")

    def manual(self, name: str, hours: float) -> None:
        self._add(TicketNeedsManualDispatch, name, hours, category="fire_box", reason="no rule")

    def whistle(self, name: str, hours: float, whistle: Whistle, *units: str) -> None:
        self._add(
            WhistleBlown,
            name,
            hours,
            whistle=whistle,
            level=Level.DISTRICT,
            units=units,
            report_within_seconds=7200,
            reason="buses block the road",
        )

    def escalate(self, name: str, hours: float, to_level: Level) -> None:
        self._add(
            TicketEscalated,
            name,
            hours,
            clock=ClockKind.RESOLUTION,
            from_level=Level.COMMUNITY,
            to_level=to_level,
            overdue_seconds=0,
        )


def scripted_day(prefix: str = "S") -> Script:
    """Seven tickets; the expected numbers are in EXPECTED_* below."""
    s = Script(prefix)
    qingshi: Place = {"street": "qingshi", "category": "fire_box"}

    # A: fire box, handled the same day, rated 满意, closed.
    s.submit("A", 0, "fire_box", "HY-01")
    s.dispatch("A", 0.01, "grid-heyuan", grid="HY-01", **qingshi)
    s.arm("A", 0.02, R, C, 48)
    s.ack("A", 0.2, "grid-heyuan")
    s.sign_off("A", 3, "grid-heyuan")
    s.resolve("A", 3, "grid-heyuan")
    s.rate("A", 4, Rating.SATISFIED, "grid-heyuan")
    s.close("A", 4)

    # B: oil fumes: resolved, rated 不满意, reopened to the same unit, resolved again in the
    # new cycle's time, rated 基本满意, closed. Both ratings count.
    oil: PlaceInGrid = {"street": "qingshi", "category": "oil_fumes_noise", "grid": "HY-02"}
    s.submit("B", 0, "oil_fumes_noise", "HY-02")
    s.dispatch("B", 0.01, "zhifa-qingshi", level=Level.STREET, **oil)
    s.arm("B", 0.02, R, Level.STREET, 48)
    s.ack("B", 1, "zhifa-qingshi")
    s.resolve("B", 5, "zhifa-qingshi")
    s.rate("B", 6, Rating.UNSATISFIED, "zhifa-qingshi")
    s.reopen("B", 6, 1, "zhifa-qingshi")
    s.dispatch("B", 6.01, "zhifa-qingshi", level=Level.STREET, **oil)
    s.arm("B", 6.02, R, Level.STREET, 48)
    s.ack("B", 7, "zhifa-qingshi")
    s.resolve("B", 30, "zhifa-qingshi")
    s.rate("B", 31, Rating.BASICALLY_SATISFIED, "zhifa-qingshi")
    s.close("B", 31)

    # C: buses block a road: coordination whistle to three units, each must report within
    # 2 h. The traffic police report in time, the bus company only after its clock ran out,
    # the property firm returns it (退单, in time). The two left sign off; resolved, unrated.
    bus: PlaceInGrid = {"street": "yunmen", "category": "traffic_obstruction", "grid": "TY-01"}
    s.submit("C", 0, "traffic_obstruction", "TY-01")
    s.whistle("C", 0.01, Whistle.COORDINATION, "jiaojing-yunxi", "bus-yunxi", "jinhua-wuye")
    for unit in ("jiaojing-yunxi", "bus-yunxi", "jinhua-wuye"):
        s.dispatch("C", 0.01, unit, whistle=Whistle.COORDINATION, level=Level.DISTRICT, **bus)
        s.arm("C", 0.02, RFD, Level.DISTRICT, 2, unit_id=unit)
    s.arm("C", 0.02, R, Level.DISTRICT, 48)
    s.ack("C", 0.3, "jiaojing-yunxi")
    s.decline("C", 0.7, "jinhua-wuye")
    s.breach("C", 2.03, RFD, Level.DISTRICT, 2.02, unit_id="bus-yunxi")
    s.ack("C", 3, "bus-yunxi")
    s.sign_off("C", 9, "jiaojing-yunxi")
    s.sign_off("C", 10, "bus-yunxi")
    s.resolve("C", 10, "jiaojing-yunxi", "bus-yunxi")

    # D: fire box the community never takes up: at 48 h the resolution clock runs out, the
    # ticket rises to the street, whose command centre reports for duty. Overdue, open.
    s.submit("D", 0.5, "fire_box", "HY-01")
    s.dispatch("D", 0.51, "grid-heyuan", grid="HY-01", **qingshi)
    s.arm("D", 0.52, R, C, 48)
    s.breach("D", 48.6, R, C, 48.52)
    s.escalate("D", 48.6, Level.STREET)
    s.dispatch(
        "D",
        48.61,
        "qingshi-command",
        grid="HY-01",
        role=Role.SUPERVISOR,
        level=Level.STREET,
        **qingshi,
    )
    s.arm("D", 48.62, R, Level.STREET, 24)
    s.ack("D", 49, "qingshi-command")

    # E: no rule places it: manual dispatch, nothing else.
    s.submit("E", 1, "fire_box", "HY-01")
    s.manual("E", 1.01)

    # F: the next day (Tuesday 09:00 Beijing): dispatched and acknowledged.
    s.submit("F", 24, "fire_box", "HY-01")
    s.dispatch("F", 24.01, "grid-heyuan", grid="HY-01", **qingshi)
    s.ack("F", 24.5, "grid-heyuan")

    # G: a fire box resolved after its deadline ran out (sla noticed first): late.
    s.submit("G", 2, "fire_box", "HY-02")
    s.dispatch("G", 2.01, "grid-heyuan", street="qingshi", category="fire_box", grid="HY-02")
    s.arm("G", 2.02, R, C, 48)
    s.ack("G", 3, "grid-heyuan")
    s.breach("G", 50.1, R, C, 50.02)
    s.resolve("G", 51, "grid-heyuan")
    s.rate("G", 52, Rating.SATISFIED, "grid-heyuan")
    s.close("G", 52)

    # Keep the stream's order by time, as the services would have produced it.
    s.events.sort(key=lambda e: e.occurred_at)
    return s


# Worked out by hand from the script above (definitions: docs/supervision.md).
EXPECTED_ALL = {
    "received": 7,  # A B C D E F G
    "dispatched": 6,  # not E
    "responded": 5,  # A B C F G; D's community unit never reported
    "responded_on_time": 4,  # C's bus company reported after its clock ran out
    "resolved": 4,  # A B C G
    "resolved_on_time": 3,  # G was late; B's second resolution is within its new cycle
    "rated": 4,  # A 满意, B 不满意 then 基本满意, G 满意
    "satisfied": 3,
    "rated_satisfied": 2,
    "closed": 3,  # A B G
    "open": 4,  # C D E F
    "overdue": 1,  # D (G's breach ended with its resolution)
    "bounces": 1,  # C's property firm
    "reopened": 1,  # B
    "escalated": 1,  # D
    "manual_dispatch": 1,  # E
    "whistle_coordination": 1,  # C
}
EXPECTED_ALL_RATES: dict[str, float | None] = {
    "response_rate": 5 / 6,
    "resolution_rate": 4 / 6,
    "satisfaction_rate": 3 / 4,
    "strict_satisfaction_rate": 2 / 4,
    "on_time_response_rate": 4 / 5,
    "on_time_resolution_rate": 3 / 4,
    "closure_rate": 3 / 7,
}
EXPECTED_MONDAY_RATES: dict[str, float | None] = {  # 2026-01-05: A B C D E G
    "response_rate": 4 / 5,
    "resolution_rate": 4 / 5,
    "satisfaction_rate": 3 / 4,
    "on_time_response_rate": 3 / 4,
    "on_time_resolution_rate": 3 / 4,
    "closure_rate": 3 / 6,
}
EXPECTED_TUESDAY_RATES: dict[str, float | None] = {  # 2026-01-06: F only
    "response_rate": 1.0,
    "resolution_rate": 0.0,
    "satisfaction_rate": None,
    "on_time_response_rate": 1.0,
    "on_time_resolution_rate": None,
    "closure_rate": 0.0,
}
EXPECTED_UNIT_RATES: dict[str, dict[str, float | None]] = {
    # A (closed, 满意), D (never reported, still answerable, overdue), F (reported),
    # G (resolved late, 满意).
    "grid-heyuan": {
        "response_rate": 3 / 4,
        "resolution_rate": 2 / 4,
        "satisfaction_rate": 1.0,
        "on_time_response_rate": 1.0,
        "on_time_resolution_rate": 1 / 2,
        "closure_rate": 2 / 4,
    },
    # B: reported, resolved twice, rated 不满意 then 基本满意.
    "zhifa-qingshi": {
        "response_rate": 1.0,
        "resolution_rate": 1.0,
        "satisfaction_rate": 0.5,
        "strict_satisfaction_rate": 0.0,
        "on_time_resolution_rate": 1.0,
        "closure_rate": 1.0,
    },
    "bus-yunxi": {"response_rate": 1.0, "on_time_response_rate": 0.0, "resolution_rate": 1.0},
    "jiaojing-yunxi": {"on_time_response_rate": 1.0, "on_time_resolution_rate": 1.0},
    # Returned C in time: it answered, and answers for no resolution.
    "jinhua-wuye": {"response_rate": 1.0, "on_time_response_rate": 1.0, "resolution_rate": None},
    "qingshi-command": {"response_rate": 1.0, "resolution_rate": 0.0},
}
EXPECTED_UNIT_COUNTS = {
    "grid-heyuan": {"dispatched": 4, "overdue": 1, "closed": 2},
    "jinhua-wuye": {"dispatched": 1, "answerable": 0, "bounces": 1},
    "zhifa-qingshi": {"rated": 2, "satisfied": 1, "reopened": 1},
}
EXPECTED_STATES = {
    "submitted": 0,
    "manual_dispatch": 1,  # E
    "dispatched": 1,  # D: the community unit has not reported
    "in_progress": 1,  # F
    "awaiting_resident": 0,
    "resolved": 1,  # C
    "closed": 3,  # A B G
}


# --- supervision in-process on real servers

# The sample directory, as the router publishes it (units with their coverage, places).
DIRECTORY = Directory.load(RouterSettings().directory_file)
# The district's centre sees the whole (one-district) city; a street's centre its street.
DISTRICT_CENTRE = "district-yunxi"
QINGSHI_CENTRE = "qingshi-command"


def supervisor_key(unit_id: str) -> str:
    return f"sup-key-{unit_id}"


def supervisor(unit_id: str = DISTRICT_CENTRE) -> dict[str, str]:
    return {"X-API-Key": supervisor_key(unit_id)}


UNIT_API_KEYS = {hash_api_key(supervisor_key(u.id)): u.id for u in DIRECTORY.units}


async def publish_directory(js: JetStreamContext) -> None:
    await publish_units(js, [unit.as_contact() for unit in DIRECTORY.units])
    await publish_places(js, place_names(DIRECTORY.document))
    await publish_catalogue(js, Dispatcher(plugin_manager(), DIRECTORY).categories())


@dataclass
class SupervisionHarness:
    app: FastAPI
    http: httpx.AsyncClient  # signed in as the district's command centre
    js: JetStreamContext

    @property
    def service(self) -> Supervision:
        service: Supervision = self.app.state.supervision
        return service

    async def publish(self, events: list[Event]) -> None:
        for event in events:
            await publish_event(self.js, event)

    async def replay(self, events: list[Event]) -> None:
        """Publish `events` and wait until the consumer has applied them."""
        await self.publish(events)
        await self.until_applied(events)

    async def until_applied(self, events: list[Event], timeout: float = 15.0) -> None:
        """Wait until the consumer has applied the last event of every ticket."""
        last = {event.ticket_id: event.event_id for event in events}
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            pending = []
            for ticket_id, event_id in last.items():
                facts = await self.service.projection.facts(ticket_id)
                if facts is None or event_id not in facts.applied:
                    pending.append(ticket_id)
            if not pending:
                return
            assert asyncio.get_running_loop().time() < deadline, f"not applied: {pending}"
            await asyncio.sleep(0.02)

    async def page(self, path: str, headers: dict[str, str] | None = None) -> str:
        """What the service answers at `path` (200, or the test fails)."""
        response = await self.http.get(path, headers=headers)
        assert response.status_code == 200, response.text
        return response.text

    async def rates(self, scope: str = "all", period: str = "all") -> dict[str, Any]:
        response = await self.http.get("/api/v1/rates", params={"scope": scope, "period": period})
        assert response.status_code == 200, response.text
        return dict(response.json())


@contextlib.asynccontextmanager
async def running_supervision(
    nats_url: str, redis_url: str, js: JetStreamContext, **settings: Any
) -> AsyncIterator[SupervisionHarness]:
    await provision(js)
    await publish_directory(js)
    settings.setdefault("unit_api_keys", UNIT_API_KEYS)
    app = create_app(SupervisionSettings(nats_url=nats_url, redis_url=redis_url, **settings))
    async with app.router.lifespan_context(app):
        service: Supervision = app.state.supervision
        await asyncio.wait_for(service.units.loaded.wait(), 10)
        await asyncio.wait_for(service.places.loaded.wait(), 10)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://supervision", headers=supervisor()
        ) as http:
            yield SupervisionHarness(app=app, http=http, js=js)


@contextlib.asynccontextmanager
async def supervision_on(
    servers: Servers,
    js: JetStreamContext,
    events: list[Event] | None = None,
    /,
    **settings: Any,
) -> AsyncIterator[SupervisionHarness]:
    """running_supervision on the shared servers, `events` replayed (applied) first."""
    async with running_supervision(servers.nats_url, servers.redis_url, js, **settings) as harness:
        if events:
            await harness.replay(events)
        yield harness


@contextlib.asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    """The app on a real loopback port (its lifespan already running), for a browser."""
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        lifespan="off",
        log_level="warning",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "uvicorn did not start"
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def client(harness: SupervisionHarness, headers: dict[str, str] | None = None) -> Any:
    """A client of the harness's app signed in with `headers` only (none: anonymous)."""
    transport = httpx.ASGITransport(app=harness.app)
    return httpx.AsyncClient(transport=transport, base_url="http://supervision", headers=headers)


Key = TypeVar("Key", bound=Hashable)


def fold_counters(
    events: list[Event],
    zone: ZoneInfo,
    counted: Callable[[SupervisedTicket | None], dict[Key, int]],
) -> Counter[Key]:
    """What the projection's store keeps, in memory: each event folded into its ticket
    and the difference of what the ticket `counted` for added."""
    tickets: dict[str, SupervisedTicket] = {}
    totals: Counter[Key] = Counter()
    for event in events:
        before = tickets.get(event.ticket_id)
        after = apply(before, event, zone)
        totals.update(difference(counted(before), counted(after)))
        tickets[event.ticket_id] = after
    return totals
