"""Sends the warnings the projection decided: they wait in the outbox
(`chuishao.common.outbox`) written in the same transaction as the counts, and leave it only
once JetStream has stored them."""

import structlog
from nats.js import JetStreamContext
from redis.asyncio import Redis

from chuishao.common.events import HotspotDetected
from chuishao.common.outbox import Outbox, relay_once
from chuishao.supervision.keys import SupervisionKeys
from chuishao.supervision.projection import outbox_of

log = structlog.get_logger()


async def relay(redis: Redis, keys: SupervisionKeys, js: JetStreamContext) -> int:
    """Publish what waits in the outbox; returns how many went out. A failure is logged
    and left for the next relay: the event that caused the warning is handled already."""
    outbox = outbox_of(redis, keys)
    try:
        await _index_unqueued(outbox)
        sent = await relay_once(outbox, js, grace=0)
    except Exception as error:  # noqa: BLE001 - whatever it was, the next relay tries again
        log.warning("hotspot_publish_failed", error=repr(error))
        return 0
    for event in sent:
        if isinstance(event, HotspotDetected):
            log.info(
                "hotspot_detected",
                grid=event.grid_code,
                category=event.category,
                street=event.street,
                count=event.count,
            )
    return len(sent)


async def _index_unqueued(outbox: Outbox) -> None:
    """Warnings stored before the outbox kept its queue times (the hash alone) join the
    queue: `Outbox.queue` and `confirm` write both keys in one transaction, so an event
    in the hash without a time can only be one of those."""
    redis = outbox.redis
    stored: list[bytes | str] = await redis.hkeys(outbox.payloads_key)
    event_ids = [e.decode() if isinstance(e, bytes) else e for e in stored]
    if not event_ids:
        return
    times = await redis.zmscore(outbox.queued_key, event_ids)
    missing = {e: 0 for e, at in zip(event_ids, times, strict=True) if at is None}
    if missing:
        await redis.zadd(outbox.queued_key, missing, nx=True)
