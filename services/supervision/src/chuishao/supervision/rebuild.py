"""Rebuild a projection by replaying the ticket stream into fresh keys, and compare two
projections key by key. The live projection and a rebuild of the same stream must be
equal: that is what makes the numbers trustworthy (and repairable).

    python -m chuishao.supervision rebuild            # replay into a new namespace, compare
"""

import asyncio
import json
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any, cast

from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from pydantic import ValidationError
from redis.asyncio import Redis

from chuishao.common.events import Event, parse_event
from chuishao.common.streams import SUPERVISION, TICKETS
from chuishao.supervision.board import MONTH
from chuishao.supervision.hotspots import HotspotRule
from chuishao.supervision.keys import SupervisionKeys, text
from chuishao.supervision.projection import ALL_MONTHS
from chuishao.supervision.rebuild_fold import RebuildFold
from chuishao.supervision.ticket import SupervisedTicket

BATCH = 500
Scored = list[tuple[bytes, float]]


@dataclass(frozen=True)
class Replayed:
    namespace: str
    events: int
    skipped: int


async def clear(redis: Redis, keys: SupervisionKeys) -> None:
    """Every key of the namespace, a scanned batch a command (one a key took 70 s over
    the keys of 30,000 tickets)."""
    cursor = 0
    while True:
        cursor, batch = await redis.scan(cursor, match=keys.pattern, count=1000)
        if batch:
            await redis.unlink(*batch)
        if cursor == 0:
            return


async def rebuild(
    js: JetStreamContext, redis: Redis, namespace: str, zone: tzinfo, rule: HotspotRule
) -> Replayed:
    """Replay every stored ticket event the supervision consumer reads into `namespace`
    (emptied first). Warnings are decided again but not sent again."""
    keys = SupervisionKeys(namespace)
    await clear(redis, keys)
    await redis.set(keys.months_since, ALL_MONTHS)  # written from the first event on
    fold = RebuildFold(redis, keys, zone, rule)
    assert TICKETS.name is not None
    try:
        info = await js.stream_info(TICKETS.name)
    except NotFoundError:
        return Replayed(namespace, 0, 0)
    if info.state.messages == 0:
        return Replayed(namespace, 0, 0)
    subscription = await js.pull_subscribe(
        "",
        stream=TICKETS.name,
        config=ConsumerConfig(
            filter_subjects=list(SUPERVISION.filter_subjects),
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.NONE,
            inactive_threshold=60.0,
        ),
    )
    events = skipped = 0
    # The next batch is fetched while this one is folded.
    fetching = asyncio.ensure_future(subscription.fetch(BATCH, timeout=5))
    try:
        while True:
            messages = await fetching
            done = messages[-1].metadata.num_pending == 0
            if not done:
                fetching = asyncio.ensure_future(subscription.fetch(BATCH, timeout=5))
            batch: list[Event] = []
            for message in messages:
                try:
                    batch.append(parse_event(message.data))
                except ValidationError:
                    skipped += (
                        1  # a type this version does not know: the live consumer dead-letters it
                    )
            await fold.apply(batch)
            events += len(batch)
            if done:
                break
        await fold.flush()
    finally:
        fetching.cancel()
        await subscription.unsubscribe()
    return Replayed(namespace, events, skipped)


async def snapshot(
    redis: Redis, keys: SupervisionKeys, months_from: str = ALL_MONTHS
) -> dict[str, Any]:
    """Every key of a projection (names without the namespace) and its value; month
    counter hashes only from `months_from` on (a projection kept from before month hashes
    has them complete only from its `months_since`: compare two from the later one)."""
    prefix = keys.namespace + ":"
    result: dict[str, Any] = {}
    async for raw_key in redis.scan_iter(match=keys.pattern, count=1000):
        key = text(raw_key)
        name = key.removeprefix(prefix)
        if key in (keys.outbox, keys.outbox_queued, keys.months_since):
            continue  # delivery bookkeeping and the month mark, not a projection
        period = name.rsplit(":", 1)[-1]
        if name.startswith("counts:") and MONTH.match(period) and period < months_from:
            continue
        kind = text(await redis.type(key))
        if kind == "string":
            raw = await redis.get(key) or b""
            # Facts as the model reads them: stored in full, short or packed, the same
            # facts compare equal.
            value: Any = (
                json.loads(SupervisedTicket.from_stored(raw).stored_json())
                if name.startswith("ticket:")
                else text(raw)
            )
        elif kind == "hash":
            stored = cast("dict[bytes, bytes]", await redis.hgetall(key))
            # A counter that went up and back down is the same as one never written.
            # In field order, so a difference reads the same however the fields came.
            value = {text(f): text(n) for f, n in sorted(stored.items()) if n != b"0"}
        elif kind == "set":
            value = sorted(text(member) for member in await redis.smembers(key))
        elif kind == "zset":
            scored = cast(
                "list[tuple[bytes, float]]", await redis.zrange(key, 0, -1, withscores=True)
            )
            value = [(text(member), score) for member, score in scored]
        else:
            value = kind
        if value != {}:
            result[name] = value
    return result


def differences(left: dict[str, Any], right: dict[str, Any]) -> list[str]:
    problems = []
    for name in sorted(left.keys() | right.keys()):
        if name not in right:
            problems.append(f"{name}: only in the first")
        elif name not in left:
            problems.append(f"{name}: only in the second")
        elif left[name] != right[name]:
            problems.append(f"{name}: {left[name]!r} != {right[name]!r}")
    return problems
