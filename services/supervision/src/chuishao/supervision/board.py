"""Reads the projection: rates of a scope and period, and the command-centre board."""

import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import Literal, cast

from pydantic import AwareDatetime, BaseModel, ConfigDict
from redis.asyncio import Redis

from chuishao.common.status import Status
from chuishao.supervision.assessment import RankedRow
from chuishao.supervision.keys import ALL_PERIODS, SupervisionKeys, text
from chuishao.supervision.rates import Rates, rates_of
from chuishao.supervision.ticket import SupervisedTicket

DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MONTH = re.compile(r"^\d{4}-\d{2}$")
SUMMED_PER_CALL = 5_000  # hashes summed by one call of SUM_GROUPS (it holds Redis meanwhile)
# KEYS: counter hashes; ARGV: how many of them, in order, make each group. Returns each
# group's fields and summed values, flat: the sums of 150,000 hashes come back as 5,000.
SUM_GROUPS = """
local out, k = {}, 1
for g = 1, #ARGV do
  local sums, names = {}, {}
  for _ = 1, tonumber(ARGV[g]) do
    local flat = redis.call('HGETALL', KEYS[k])
    k = k + 1
    for i = 1, #flat, 2 do
      local name = flat[i]
      if sums[name] == nil then
        sums[name] = 0
        names[#names + 1] = name
      end
      sums[name] = sums[name] + tonumber(flat[i + 1])
    end
  end
  local row = {}
  for _, name in ipairs(names) do
    row[#row + 1] = name
    row[#row + 1] = string.format('%d', sums[name])
  end
  out[g] = row
end
return out
"""


class BadPeriod(ValueError):
    pass


class OverdueItem(BaseModel):
    model_config = ConfigDict(frozen=True)

    ticket_id: str
    category: str | None
    street: str | None
    grid: str | None
    level: str | None
    units: list[str]
    escalated: bool
    overdue_since: AwareDatetime
    overdue_seconds: int


class HotspotItem(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    at: AwareDatetime
    ticket_id: str
    grid: str
    street: str | None
    category: str
    count: int
    threshold: int
    window_seconds: int


class WhistleItem(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    at: AwareDatetime
    ticket_id: str
    whistle: str
    level: str
    units: list[str]
    category: str | None = None
    street: str | None = None


MapKind = Literal["street", "grid"]


class PlaceLoad(BaseModel):
    """A street's or grid's tickets open and overdue now (its `all` counters): the
    shading of the big screen's map."""

    model_config = ConfigDict(frozen=True)

    code: str
    kind: MapKind
    open: int
    overdue: int


class ScopeRow(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    rates: Rates


class Board(BaseModel):
    """Everything the command-centre page shows, as of one moment of the stack clock, for
    one viewer's scope (a street, a district, the city)."""

    as_of: AwareDatetime
    # The shared stack clock's offset from real time (time travel: tests, the demo); 0
    # in production. The page says so when it is not 0.
    clock_offset_seconds: float = 0.0
    period: str
    scope: str  # 青石街道, 云溪区, …
    scope_streets: list[str] | None  # None: everything, tickets not yet placed included
    states: dict[str, int]
    open_tickets: int
    overdue_count: int
    overdue: list[OverdueItem]
    totals: Rates
    units: list[ScopeRow]
    streets: list[ScopeRow]
    hotspots: list[HotspotItem]
    whistles: list[WhistleItem]
    # The big screen (docs/supervision.md, "The big screen"): the places of the scope with
    # open tickets, and the units ranked by the composite score of `ranking_month` (the
    # month of `period`, else the current one), as the monthly report ranks them.
    places: list[PlaceLoad] = []
    ranking_month: str = ""
    ranking: list[RankedRow] = []
    # The names of the codes above, from the router's directory and catalogue.
    unit_names: dict[str, str] = {}
    place_names: dict[str, str] = {}
    category_names: dict[str, str] = {}

    def codes(self) -> tuple[set[str], set[str], set[str]]:
        """(unit ids, place codes, category codes) that the board mentions."""
        units = {row.id for row in self.units}
        places = {row.id for row in self.streets} | set(self.scope_streets or ())
        categories: set[str] = set()
        for item in self.overdue:
            units.update(item.units)
            places.update(code for code in (item.street, item.grid) if code)
            categories.update(code for code in (item.category,) if code)
        for hotspot in self.hotspots:
            places.update(code for code in (hotspot.street, hotspot.grid) if code)
            categories.add(hotspot.category)
        for whistle in self.whistles:
            units.update(whistle.units)
            places.update(code for code in (whistle.street,) if code)
            categories.update(code for code in (whistle.category,) if code)
        return units, places, categories


def _is_date(period: str, form: str) -> bool:
    """A real calendar day or month (9999-99 has the shape of a month and is not one)."""
    try:
        datetime.strptime(period, form)
    except ValueError:
        return False
    return True


class Reader:
    def __init__(self, redis: Redis, keys: SupervisionKeys) -> None:
        self.redis = redis
        self.keys = keys
        self._sum_groups = redis.register_script(SUM_GROUPS)

    async def periods_in(self, period: str) -> list[str]:
        """The stored periods that make up `period`: all, a day, or a month's days."""
        if period == ALL_PERIODS or (DAY.match(period) and _is_date(period, "%Y-%m-%d")):
            return [period]
        if MONTH.match(period) and _is_date(period, "%Y-%m"):
            since = await self.redis.get(self.keys.months_since)
            if since is not None and period >= text(since):
                return [period]  # the month's own hashes: one per scope, not thirty
            days = {text(day) for day in await self.redis.smembers(self.keys.days)}
            return sorted(day for day in days if day.startswith(period + "-"))
        raise BadPeriod(f"period must be 'all', YYYY-MM-DD or YYYY-MM, not {period!r}")

    async def counts(self, scope: str | list[str], period: str) -> dict[str, int]:
        """The counters of a scope, or the sum over several (streets of one viewer)."""
        return (await self.counts_of([[scope] if isinstance(scope, str) else scope], period))[0]

    async def counts_of(self, groups: list[list[str]], period: str) -> list[dict[str, int]]:
        """The summed counters of each group of scopes, summed in Redis (SUM_GROUPS) a few
        thousand hashes per call: a city board has thousands of units, a month thirty
        days of each, and one round trip per hash made the month's board take 8.5 s at
        1,200 units (docs/benchmarks.md, "A whole city")."""
        parts = await self.periods_in(period)
        results: list[dict[str, int]] = []
        start = 0
        while start < len(groups):
            end, hashes = start, 0
            while end < len(groups) and (
                end == start or hashes + len(groups[end]) * len(parts) <= SUMMED_PER_CALL
            ):
                hashes += len(groups[end]) * len(parts)
                end += 1
            chunk = groups[start:end]
            names = [self.keys.counts(one, part) for g in chunk for one in g for part in parts]
            sizes = [len(g) * len(parts) for g in chunk]
            summed = cast("list[list[bytes]]", await self._sum_groups(keys=names, args=sizes))
            for flat in summed:
                pairs = zip(flat[::2], flat[1::2], strict=True)
                results.append({text(name): int(value) for name, value in pairs if int(value)})
            start = end
        return results

    async def rates(
        self, scope: str | list[str], period: str = ALL_PERIODS, label: str | None = None
    ) -> Rates:
        name = label or (scope if isinstance(scope, str) else ",".join(scope))
        return rates_of(name, period, await self.counts(scope, period))

    async def values(self, kind: str) -> list[str]:
        return sorted(text(value) for value in await self.redis.smembers(self.keys.index(kind)))

    async def rows(
        self, kind: str, period: str, name_of: Callable[[str], str] | None = None
    ) -> list[ScopeRow]:
        values = await self.values(kind)
        counted = await self.counts_of([[f"{kind}:{value}"] for value in values], period)
        return [
            ScopeRow(
                id=value,
                name=name_of(value) if name_of else value,
                rates=rates_of(f"{kind}:{value}", period, counts),
            )
            for value, counts in zip(values, counted, strict=True)
            if counts
        ]

    async def street_unit_rows(
        self, streets: list[str], period: str, name_of: Callable[[str], str] | None = None
    ) -> list[ScopeRow]:
        """Each unit's part in the tickets of these streets only."""
        by_unit: dict[str, list[str]] = {}
        for value in await self.values("street_unit"):
            street, _, unit_id = value.partition("/")
            if street in streets:
                by_unit.setdefault(unit_id, []).append(f"street_unit:{value}")
        ordered = sorted(by_unit.items())
        counted = await self.counts_of([scopes for _, scopes in ordered], period)
        return [
            ScopeRow(
                id=unit_id,
                name=name_of(unit_id) if name_of else unit_id,
                rates=rates_of(f"unit:{unit_id}", period, counts),
            )
            for (unit_id, _), counts in zip(ordered, counted, strict=True)
            if counts
        ]

    async def loads(self, places: list[tuple[MapKind, str]]) -> list[PlaceLoad]:
        """The open and overdue tickets of these (kind, code) places now; only those with
        any. One hash each (period `all`), summed in a few calls like the rows."""
        counted = await self.counts_of([[f"{kind}:{code}"] for kind, code in places], ALL_PERIODS)
        return [
            PlaceLoad(code=code, kind=kind, open=counts["open"], overdue=counts.get("overdue", 0))
            for (kind, code), counts in zip(places, counted, strict=True)
            if counts.get("open", 0) > 0
        ]

    async def states(self, streets: list[str] | None = None) -> dict[str, int]:
        if streets is None:
            stored = await self.redis.hgetall(self.keys.states)
            counts = {text(state): int(n) for state, n in stored.items()}
        else:
            totals = await self.counts([f"street:{s}" for s in streets], ALL_PERIODS)
            counts = {
                name.removeprefix("state_"): n
                for name, n in totals.items()
                if name.startswith("state_")
            }
        # A linked report has no events of its own until it is split out (its lead's
        # ReportLinked counts it), so no ticket here is ever linked.
        return {
            state.value: counts.get(state.value, 0) for state in Status if state != Status.LINKED
        }

    async def _facts(self, ticket_id: str) -> SupervisedTicket | None:
        raw = await self.redis.get(self.keys.ticket(ticket_id))
        return SupervisedTicket.from_stored(raw) if raw is not None else None

    async def overdue(
        self, now: datetime, limit: int = 20, streets: list[str] | None = None
    ) -> tuple[int, list[OverdueItem]]:
        """How many tickets are overdue, and the `limit` that missed a deadline first:
        of everything, or of some streets (each street keeps its own sorted set)."""
        if streets is None:
            total = await self.redis.zcard(self.keys.overdue)
            ranked = cast(
                "list[tuple[bytes, float]]",
                await self.redis.zrange(self.keys.overdue, 0, limit - 1, withscores=True),
            )
        else:
            total, ranked = 0, []
            for street in streets:
                key = self.keys.overdue_in(street)
                total += await self.redis.zcard(key)
                ranked += cast(
                    "list[tuple[bytes, float]]",
                    await self.redis.zrange(key, 0, limit - 1, withscores=True),
                )
            ranked = sorted(ranked, key=lambda pair: pair[1])[:limit]
        items = []
        for member, _ in ranked:
            facts = await self._facts(text(member))
            item = self._overdue_item(facts, now) if facts is not None else None
            if item is not None:
                items.append(item)
        return total, items

    def _overdue_item(self, facts: SupervisedTicket, now: datetime) -> OverdueItem | None:
        overdue_since = facts.overdue_since
        if overdue_since is None:
            return None
        return OverdueItem(
            ticket_id=facts.ticket_id,
            category=facts.category,
            street=facts.street,
            grid=facts.grid,
            level=facts.level,
            units=sorted(facts.active_units),
            escalated=bool(facts.escalations),
            overdue_since=overdue_since,
            overdue_seconds=max(round((now - overdue_since).total_seconds()), 0),
        )

    async def recent(self, key: str, limit: int) -> list[dict[str, object]]:
        members = cast("list[bytes]", await self.redis.zrevrange(key, 0, limit - 1))
        return [json.loads(member) for member in members]

    async def hotspots(self, streets: list[str] | None, limit: int = 10) -> list[HotspotItem]:
        items = [HotspotItem.model_validate(i) for i in await self.recent(self.keys.hotspots, 200)]
        return [h for h in items if streets is None or h.street in streets][:limit]

    async def whistles(self, streets: list[str] | None, limit: int = 10) -> list[WhistleItem]:
        kept: list[WhistleItem] = []
        for item in await self.recent(self.keys.whistles, 200):
            whistle = WhistleItem.model_validate(item)
            if whistle.street is None:
                # Blown before the router placed the ticket: its street is known now.
                facts = await self._facts(whistle.ticket_id)
                if facts is not None and facts.street is not None:
                    whistle = whistle.model_copy(update={"street": facts.street})
            if streets is None or whistle.street in streets:
                kept.append(whistle)
            if len(kept) == limit:
                break
        return kept

    async def board(
        self,
        now: datetime,
        period: str = ALL_PERIODS,
        unit_name: Callable[[str], str] | None = None,
        streets: list[str] | None = None,
        scope: str = "",
        place_name: Callable[[str], str] | None = None,
    ) -> Board:
        """The board of everything (`streets` None) or of some streets only."""
        states = await self.states(streets)
        overdue_count, overdue = await self.overdue(now, streets=streets)
        if streets is None:
            totals = await self.rates("all", period)
            units = await self.rows("unit", period, unit_name)
            street_rows = await self.rows("street", period, place_name)
        else:
            totals = await self.rates([f"street:{s}" for s in streets], period, label="all")
            units = await self.street_unit_rows(streets, period, unit_name)
            every_street = await self.rows("street", period, place_name)
            street_rows = [row for row in every_street if row.id in streets]
        return Board(
            as_of=now,
            period=period,
            scope=scope,
            scope_streets=streets,
            states=states,
            open_tickets=sum(n for state, n in states.items() if state != Status.CLOSED),
            overdue_count=overdue_count,
            overdue=overdue,
            totals=totals,
            units=units,
            streets=street_rows,
            hotspots=await self.hotspots(streets),
            whistles=await self.whistles(streets),
        )
