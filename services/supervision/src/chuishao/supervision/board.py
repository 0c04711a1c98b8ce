"""Reads the projection: rates of a scope and period, and the command-centre board."""

import json
import re
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import cast

from pydantic import AwareDatetime, BaseModel, ConfigDict
from redis.asyncio import Redis

from chuishao.supervision.keys import ALL_PERIODS, Keys
from chuishao.supervision.rates import Rates, rates_of
from chuishao.supervision.ticket import Status, TicketFacts

DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MONTH = re.compile(r"^\d{4}-\d{2}$")


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


class ScopeRow(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    rates: Rates


class Board(BaseModel):
    """Everything the command-centre page shows, as of one moment of the stack clock."""

    as_of: AwareDatetime
    period: str
    states: dict[str, int]
    open_tickets: int
    overdue_count: int
    overdue: list[OverdueItem]
    totals: Rates
    units: list[ScopeRow]
    streets: list[ScopeRow]
    hotspots: list[HotspotItem]
    whistles: list[WhistleItem]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class Reader:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys

    async def periods_in(self, period: str) -> list[str]:
        """The stored periods that make up `period`: all, a day, or a month's days."""
        if period == ALL_PERIODS or DAY.match(period):
            return [period]
        if MONTH.match(period):
            days = {_text(day) for day in await self.redis.smembers(self.keys.days)}
            return sorted(day for day in days if day.startswith(period + "-"))
        raise BadPeriod(f"period must be 'all', YYYY-MM-DD or YYYY-MM, not {period!r}")

    async def counts(self, scope: str, period: str) -> dict[str, int]:
        total: Counter[str] = Counter()
        for part in await self.periods_in(period):
            stored = await self.redis.hgetall(self.keys.counts(scope, part))
            total.update({_text(name): int(value) for name, value in stored.items()})
        return {name: n for name, n in total.items() if n}

    async def rates(self, scope: str, period: str = ALL_PERIODS) -> Rates:
        return rates_of(scope, period, await self.counts(scope, period))

    async def values(self, kind: str) -> list[str]:
        return sorted(_text(value) for value in await self.redis.smembers(self.keys.index(kind)))

    async def rows(
        self, kind: str, period: str, name_of: Callable[[str], str] | None = None
    ) -> list[ScopeRow]:
        rows = []
        for value in await self.values(kind):
            rates = await self.rates(f"{kind}:{value}", period)
            if rates.counts:
                rows.append(
                    ScopeRow(id=value, name=name_of(value) if name_of else value, rates=rates)
                )
        return rows

    async def states(self) -> dict[str, int]:
        stored = await self.redis.hgetall(self.keys.states)
        counts = {_text(state): int(n) for state, n in stored.items()}
        return {state.value: counts.get(state.value, 0) for state in Status}

    async def overdue(self, now: datetime, limit: int = 20) -> tuple[int, list[OverdueItem]]:
        total = await self.redis.zcard(self.keys.overdue)
        items = []
        members = cast("list[bytes]", await self.redis.zrange(self.keys.overdue, 0, limit - 1))
        for member in members:
            raw = await self.redis.get(self.keys.ticket(_text(member)))
            if raw is None:
                continue
            facts = TicketFacts.model_validate_json(raw)
            overdue_since = facts.overdue_since
            if overdue_since is None:
                continue
            items.append(
                OverdueItem(
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
            )
        return total, items

    async def recent(self, key: str, limit: int) -> list[dict[str, object]]:
        members = cast("list[bytes]", await self.redis.zrevrange(key, 0, limit - 1))
        return [json.loads(member) for member in members]

    async def board(
        self,
        now: datetime,
        period: str = ALL_PERIODS,
        unit_name: Callable[[str], str] | None = None,
    ) -> Board:
        states = await self.states()
        overdue_count, overdue = await self.overdue(now)
        return Board(
            as_of=now,
            period=period,
            states=states,
            open_tickets=sum(n for state, n in states.items() if state != Status.CLOSED),
            overdue_count=overdue_count,
            overdue=overdue,
            totals=await self.rates("all", period),
            units=await self.rows("unit", period, unit_name),
            streets=await self.rows("street", period),
            hotspots=[
                HotspotItem.model_validate(item)
                for item in await self.recent(self.keys.hotspots, 10)
            ],
            whistles=[
                WhistleItem.model_validate(item)
                for item in await self.recent(self.keys.whistles, 10)
            ],
        )
