"""Two months of generated ticket history (seeded), and the monthly report's figures that
issue 19 added — 平均办理时长 per unit and per street, 每月一题 per street, 主动治理 per
street — computed from the events alone, without supervision's facts or counters, so a
test can hold the projection (pure, or live on JetStream and rebuilt) against them."""

import random
from collections import Counter, defaultdict
from dataclasses import astuple, dataclass, field, fields
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from chuishao.common.domain import Channel, ClockKind, Level, Rating
from chuishao.common.events import (
    Event,
    ReportLinked,
    TicketDispatched,
    TicketReopened,
    TicketResolved,
    TicketSubmitted,
    UnitSignedOff,
)
from support.supervision import START, PlaceInGrid, Script

ZONE = ZoneInfo("Asia/Shanghai")
MONTHS = ("2025-12", "2026-01")
STREETS = {"qingshi": ("HY-01", "HY-02", "SQ-01"), "liuan": ("LY-01", "LY-02")}
UNITS = {"qingshi": ("grid-heyuan", "zhifa-qingshi"), "liuan": ("grid-liuyin", "zhifa-liuan")}
CATEGORIES = ("fire_box", "oil_fumes_noise", "road_damage")
REPORTERS = tuple(f"ref-{n}" for n in range(8))  # a small pool, so people report again
MINIMUM_REPORTS, PER_STREET = 2, 5  # the shipped policy's [problems]


def _hours(moment: datetime) -> float:
    return (moment - START).total_seconds() / 3600


def generated(seed: int = 19, tickets: int = 120) -> Script:
    """`tickets` tickets over December 2025 and January 2026: most dispatched, many
    resolved (some reopened and resolved again, some with a co-unit signing off first),
    some with reports linked to them, a few proactive."""
    rng = random.Random(seed)
    s = Script("G")
    for n in range(tickets):
        name = f"{n:03d}"
        month = rng.choice(MONTHS)
        day = rng.randint(1, 31 if month.endswith("12") or month.endswith("01") else 28)
        # Any time of that local day, so some fall near midnight UTC.
        local = datetime(int(month[:4]), int(month[5:]), day, tzinfo=ZONE)
        at = _hours(local + timedelta(minutes=rng.randint(0, 24 * 60 - 1)))
        street = rng.choice(sorted(STREETS))
        grid = rng.choice(STREETS[street])
        category = rng.choice(CATEGORIES)
        proactive = rng.random() < 0.1
        channel = Channel.PROACTIVE if proactive else Channel.SNAP_IT
        reporter = None if proactive or rng.random() < 0.2 else rng.choice(REPORTERS)
        s.submit(name, at, category, grid, channel=channel, reporter_ref=reporter)
        if rng.random() < 0.1:
            continue  # never dispatched: no street, no handling time, no 每月一题
        lead, co = UNITS[street]
        place: PlaceInGrid = {"category": category, "street": street, "grid": grid}
        dispatched = at + rng.uniform(0.01, 3)
        s.dispatch(name, dispatched, lead, **place)
        units = [lead]
        if rng.random() < 0.2:
            s.dispatch(name, dispatched + rng.uniform(0, 2), co, level=Level.STREET, **place)
            units.append(co)
        s.arm(name, dispatched + 0.01, ClockKind.RESOLUTION, Level.COMMUNITY, 48)
        s.ack(name, dispatched + 0.2, lead)
        for duplicate in range(rng.choice((0, 0, 0, 1, 2))):
            ref = rng.choice((None, *REPORTERS))
            s.link(name, dispatched + 0.3 + duplicate, f"GL{name}{duplicate}", ref)
        if rng.random() < 0.3:
            continue  # still open
        done = dispatched + rng.uniform(0.5, 90)
        if len(units) == 2:
            s.sign_off(name, done - rng.uniform(0, 0.5), co)
        s.resolve(name, done, *units)
        if rng.random() < 0.2:
            s.reopen(name, done + 1, 1, *units)
            done += rng.uniform(2, 30)
            s.sign_off(name, done, lead)
            s.resolve(name, done, *units)
        if not proactive and rng.random() < 0.5:
            s.rate(name, done + 1, Rating.SATISFIED, *units)
    return s


@dataclass(frozen=True)
class Problem:
    rank: int
    grid: str
    category: str
    reports: int
    repeat_reporters: int
    previous_reports: int
    previous_rank: int | None
    change: int

    def row(self) -> tuple[object, ...]:
        """The problem's fields in PROBLEM_FIELDS order, to compare with what is served."""
        return astuple(self)


# The fields of a recurring problem's row, in the order Problem holds them.
PROBLEM_FIELDS = tuple(f.name for f in fields(Problem))


@dataclass
class Figures:
    """One month's figures, from the events alone."""

    unit_hours: dict[str, float] = field(default_factory=dict)
    street_hours: dict[str, float] = field(default_factory=dict)
    proactive: Counter[str] = field(default_factory=Counter)
    proactive_resolved: Counter[str] = field(default_factory=Counter)
    problems: dict[str, list[Problem]] = field(default_factory=dict)


@dataclass
class _Tally:
    handling: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    reports: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    reporters: dict[tuple[str, str, str], Counter[str]] = field(
        default_factory=lambda: defaultdict(Counter)
    )


def _month_of(moment: datetime) -> str:
    return moment.astimezone(ZONE).strftime("%Y-%m")


def _mean_hours(seconds: list[int]) -> float:
    return round(sum(seconds) / len(seconds) / 3600, 2)


def _by_ticket(events: list[Event]) -> dict[str, list[Event]]:
    tickets: dict[str, list[Event]] = defaultdict(list)
    for event in events:
        tickets[event.ticket_id].append(event)
    return tickets


def _tally(events: list[Event], month: str, figures: Figures) -> _Tally:
    """Handling seconds per unit and street, reports and reporters per problem."""
    tally = _Tally()
    for ticket in _by_ticket(events).values():
        submitted = ticket[0]
        assert isinstance(submitted, TicketSubmitted)
        if _month_of(submitted.occurred_at) != month:
            continue
        dispatches = [e for e in ticket if isinstance(e, TicketDispatched)]
        if not dispatches:
            continue
        street, grid = dispatches[0].street, dispatches[0].grid_code
        assert street is not None
        assert grid is not None
        first_summoned: dict[str, datetime] = {}
        for d in dispatches:
            first_summoned.setdefault(d.unit_id, d.occurred_at)
        resolved: datetime | None = None
        signed: dict[str, datetime] = {}
        linked: list[str | None] = []
        for event in ticket:
            if isinstance(event, TicketReopened):
                resolved, signed = None, {}
            elif isinstance(event, UnitSignedOff):
                signed.setdefault(event.unit_id, event.occurred_at)
            elif isinstance(event, TicketResolved):
                for unit in event.units:
                    signed.setdefault(unit, event.occurred_at)
                resolved = event.occurred_at
            elif isinstance(event, ReportLinked):
                linked.append(event.reporter_ref)
        if submitted.channel == Channel.PROACTIVE:
            figures.proactive[street] += 1
            figures.proactive_resolved[street] += resolved is not None
            continue
        if resolved is not None:
            seconds = (resolved - dispatches[0].occurred_at).total_seconds()
            tally.handling[f"street:{street}"].append(round(seconds))
        for unit, at in signed.items():
            tally.handling[f"unit:{unit}"].append(
                round((at - first_summoned[unit]).total_seconds())
            )
        key = (street, grid, submitted.category or "")
        tally.reports[key] += 1 + len(linked)
        for ref in (submitted.reporter_ref, *linked):
            if ref:
                tally.reporters[key][ref] += 1
    return tally


def _ranked(tally: _Tally, street: str) -> list[tuple[tuple[str, str], int, int]]:
    """((grid, category), reports, repeat reporters) of a street's recurring problems."""
    rows = []
    for (s, grid, category), reports in tally.reports.items():
        if s != street or reports < MINIMUM_REPORTS:
            continue
        repeat = sum(1 for n in tally.reporters[(s, grid, category)].values() if n > 1)
        rows.append(((grid, category), reports, repeat))
    return sorted(rows, key=lambda r: (-r[1], -r[2], r[0]))


def figures(events: list[Event], month: str, previous: str) -> Figures:
    result = Figures()
    now = _tally(events, month, result)
    before = _tally(events, previous, Figures())
    for scope, seconds in now.handling.items():
        kind, _, code = scope.partition(":")
        target = result.unit_hours if kind == "unit" else result.street_hours
        target[code] = _mean_hours(seconds)
    for street in sorted(STREETS):
        earlier = {key: n for n, (key, _, _) in enumerate(_ranked(before, street), start=1)}
        rows = []
        for n, (key, reports, repeat) in enumerate(_ranked(now, street)[:PER_STREET], start=1):
            then = before.reports.get((street, *key), 0)
            rows.append(
                Problem(n, key[0], key[1], reports, repeat, then, earlier.get(key), reports - then)
            )
        if rows:
            result.problems[street] = rows
    return result
