"""Re-sends events that were stored but whose publish was never confirmed."""

import asyncio
import time

import structlog
from nats.js import JetStreamContext

from chuishao.common.publishing import publish_event
from chuishao.intake.store import TicketStore

log = structlog.get_logger()


async def relay_once(store: TicketStore, js: JetStreamContext, grace: float) -> int:
    # Wall time, not the business clock: this is about a publish that never returned.
    pending = await store.unconfirmed(time.time() - grace)
    for event in pending:
        # Same Nats-Msg-Id as the first attempt: if that one did land, the stream drops this.
        await publish_event(js, event)
        await store.confirm(event.event_id)
    if pending:
        log.info("outbox_relayed", count=len(pending))
    return len(pending)


async def relay_forever(
    store: TicketStore, js: JetStreamContext, grace: float, every: float = 2.0
) -> None:
    while True:
        try:
            await relay_once(store, js, grace)
        except Exception as error:  # noqa: BLE001 - keep relaying through outages
            log.warning("outbox_relay_failed", error=repr(error))
        await asyncio.sleep(every)
