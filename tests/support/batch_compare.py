"""What the batch-equivalence tests compare (router, sla, notify): the same events handled
one at a time and a batch at a time must leave the same streams and the same keys."""

import random
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast

import pytest
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from redis.asyncio import Redis

from chuishao.common.clock import ManualClock
from chuishao.common.domain import Channel, ClockKind, Level, Location, Priority, Role, Whistle
from chuishao.common.events import Event, TicketDispatched, TicketEscalated, TicketSubmitted
from chuishao.common.kv import KvView
from chuishao.common.outbox import Outbox
from chuishao.common.streams import declare_streams
from chuishao.common.unit_contacts import UnitContact
from chuishao.notify.delivery_log import DeliveryLogStore
from chuishao.notify.fanout import FanOut

T = TypeVar("T")
NOW = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)  # the tests' stack clock (10:00 in Beijing)
UNIT_IDS = ("grid-heyuan", "wuye", "street-centre")


def units() -> dict[str, UnitContact]:
    """Three units with a duty phone; wuye has a webhook too (for notify's jobs)."""
    return {
        unit_id: UnitContact(
            id=unit_id,
            name=unit_id,
            kind="community",
            level=Level.COMMUNITY,
            webhook_url="http://127.0.0.1:9/hook" if unit_id == "wuye" else None,
            duty_phone="13800000000",
        )
        for unit_id in UNIT_IDS
    }


def interleaved(rng: random.Random, histories: Sequence[Sequence[T]]) -> list[T]:
    """The histories shuffled into one stream, each history's items in order."""
    queues = [list(history) for history in histories if history]
    merged: list[T] = []
    while queues:
        queue = rng.choice(queues)
        merged.append(queue.pop(0))
        if not queue:
            queues.remove(queue)
    return merged


def cut(items: Sequence[T], rng: random.Random, size: int | None, most: int) -> list[list[T]]:
    """Batches of `size`, or of random sizes 1..`most` when None."""
    batches: list[list[T]] = []
    at = 0
    while at < len(items):
        step = size or rng.randint(1, most)
        batches.append(list(items[at : at + step]))
        at += step
    return batches


async def empty(js: JetStreamContext, redis: Redis) -> None:
    """New streams (their duplicate windows with them) and an empty Redis."""
    for info in await js.streams_info():
        await js.delete_stream(info.config.name or "")
    await redis.flushall()
    await declare_streams(js)


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


async def stored(
    js: JetStreamContext, redis: Redis, wall_scored: Callable[[str], bool]
) -> dict[str, Any]:
    """Every stream's messages in order (subject, de-duplication id, body) and every key;
    the members only of the sorted sets `wall_scored` names (scored by wall time)."""
    found: dict[str, Any] = {}
    for info in await js.streams_info():
        name = info.config.name or ""
        state = info.state
        messages = []
        for seq in range(state.first_seq, state.last_seq + 1) if state.messages else ():
            try:
                msg = await js.get_msg(name, seq)
            except NotFoundError:
                continue
            messages.append((msg.subject, (msg.headers or {}).get("Nats-Msg-Id"), msg.data))
        found[f"stream {name}"] = messages
    for raw in sorted(await redis.keys("*")):
        key = _text(raw)
        kind = _text(await redis.type(key))
        if kind == "zset":
            found[key] = (
                sorted(await redis.zrange(key, 0, -1))
                if wall_scored(key)
                else await redis.zrange(key, 0, -1, withscores=True)
            )
        elif kind == "string":
            found[key] = await redis.get(key)
        elif kind == "hash":
            found[key] = await redis.hgetall(key)
        elif kind == "list":
            found[key] = await redis.lrange(key, 0, -1)
        elif kind == "set":
            found[key] = sorted(await redis.smembers(key))
        else:
            found[key] = kind
    return found


# Routed at once, to a centre's manual queue (nothing matches), and emergencies.
REPORTS: tuple[tuple[str | None, str, str], ...] = (
    ("fire_box", "消防箱玻璃碎了", "HY-01"),
    ("street_light", "路灯不亮了", "HY-02"),
    (None, "有个事想问问", "HY-01"),
    (None, "楼道里很重的煤气味，有人晕倒了", "HY-03"),
    ("road_damage", "路面塌了一个大坑", "HY-02"),
)


def submits(
    count: int, first: int = 0, reports: Sequence[tuple[str | None, str, str]] = REPORTS
) -> list[TicketSubmitted]:
    """Hotline reports T2026010500<n>, taking `reports` in turn."""
    return [
        TicketSubmitted.first(
            producer="intake",
            clock=ManualClock(NOW),
            ticket_id=f"T2026010500{n:04d}",
            category=category,
            description=text,
            priority=Priority.NORMAL,
            channel=Channel.HOTLINE_12345,
            location=Location(grid_code=grid),
        )
        for n in range(first, first + count)
        for category, text, grid in [reports[n % len(reports)]]
    ]


def unit_dispatch(ticket_id: str, unit: str, role: Role, priority: Priority) -> TicketDispatched:
    """The router's dispatch of a broken fire box to `unit` (its event id names the unit)."""
    return TicketDispatched.first(
        producer="router",
        clock=ManualClock(NOW),
        ticket_id=ticket_id,
        event_id=f"{ticket_id}-{unit}",
        unit_id=unit,
        unit_name=unit,
        role=role,
        level=Level.COMMUNITY,
        whistle=Whistle.DAILY,
        category="fire_box",
        priority=priority,
        description="消防箱玻璃碎了",
        location=Location(grid_code="HY-01"),
        reason="test",
        street="qingshi",
    )


def escalation(cause: Event, hours: float = 49) -> TicketEscalated:
    """sla's escalation of `cause`'s ticket from the community to the street."""
    return TicketEscalated.caused_by(
        cause,
        producer="sla",
        occurred_at=NOW + timedelta(hours=hours),
        clock=ClockKind.RESOLUTION,
        from_level=Level.COMMUNITY,
        to_level=Level.STREET,
        overdue_seconds=3600,
    )


def fanout(js: JetStreamContext, redis: Redis) -> FanOut:
    """Notify's fan-out over `units()`, its clock at NOW."""
    return FanOut(
        js=js,
        redis=redis,
        units=cast(KvView[UnitContact], units()),  # only `get` is read
        history=DeliveryLogStore(redis),
        clock=ManualClock(NOW),
    )


def first_publish_times_out(monkeypatch: pytest.MonkeyPatch, outbox: Outbox) -> list[int]:
    """The outbox's first `publish_all` raises (no PubAck in time); the later ones publish.
    Returns the calls made (one entry each)."""
    publish_all = outbox.publish_all
    calls: list[int] = []

    async def times_out(*args: Any, **options: Any) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise TimeoutError("publishes not acknowledged")
        await publish_all(*args, **options)

    monkeypatch.setattr(outbox, "publish_all", times_out)
    return calls
