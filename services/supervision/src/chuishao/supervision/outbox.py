"""Sends the warnings the projection decided: they wait in an outbox written in the
same transaction as the counts, and leave it only once JetStream has stored them."""

import structlog
from nats.js import JetStreamContext
from redis.asyncio import Redis

from chuishao.common.events import HotspotDetected, parse_event
from chuishao.common.publishing import publish_event
from chuishao.supervision.keys import Keys

log = structlog.get_logger()


async def relay(redis: Redis, keys: Keys, js: JetStreamContext) -> int:
    """Publish what waits in the outbox; returns how many went out."""
    sent = 0
    for event_id, raw in (await redis.hgetall(keys.outbox)).items():
        event = parse_event(raw)
        try:
            await publish_event(js, event)
        except Exception as error:  # noqa: BLE001 - whatever it was, the next relay tries again
            log.warning("hotspot_publish_failed", event_id=event.event_id, error=repr(error))
            continue
        await redis.hdel(keys.outbox, event_id)
        if isinstance(event, HotspotDetected):
            log.info(
                "hotspot_detected",
                grid=event.grid_code,
                category=event.category,
                street=event.street,
                count=event.count,
            )
        sent += 1
    return sent
