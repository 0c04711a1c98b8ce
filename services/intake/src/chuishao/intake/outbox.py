"""Re-sends events that were stored but whose publish was never confirmed.

One bad entry never holds up the rest: an entry that can never be published (it does
not parse, NATS refuses its size, the stream refuses it) goes to the dead letters
(`dlq.intake-outbox` in DEADLETTER) with the reason in its headers and leaves the
outbox; the entries behind it go on. Anything else (NATS away, a timeout) ends the
round and the next round tries again, as before.
"""

import asyncio
import time

import structlog
from nats.errors import MaxPayloadError
from nats.js import JetStreamContext
from nats.js.errors import BadRequestError
from pydantic import ValidationError

from chuishao.common import subjects
from chuishao.common.delivery import (
    ERROR_HEADER,
    REASON_HEADER,
    STREAM_HEADER,
    SUBJECT_HEADER,
)
from chuishao.common.events import Event, parse_event
from chuishao.common.privacy import mask_text
from chuishao.common.publishing import (
    MAX_EVENT_BYTES,
    TICKET_HEADER,
    encode,
    publish_event,
)
from chuishao.intake.store import TicketStore

log = structlog.get_logger()

OUTBOX_LETTERS = subjects.dead_letter("intake-outbox")
# Failures no retry can cure; anything else is retried next round.
PERMANENT = (MaxPayloadError, BadRequestError)


async def relay_once(store: TicketStore, js: JetStreamContext, grace: float) -> int:
    # Wall time, not the business clock: this is about a publish that never returned.
    pending = await store.unconfirmed_raw(time.time() - grace)
    relayed = 0
    for event_id, payload in pending:
        if payload is None:  # confirmed meanwhile: only the index entry was left
            await store.confirm(event_id)
            continue
        try:
            event = parse_event(payload)
        except (ValidationError, ValueError) as error:
            await dead_letter(js, event_id, payload, None, "unprocessable", error)
            await store.confirm(event_id)
            continue
        try:
            # Same Nats-Msg-Id as the first attempt: if that one did land, the stream drops this.
            await publish_event(js, event)
        except PERMANENT as error:
            await dead_letter(js, event_id, payload, event, "unpublishable", error)
            await store.confirm(event_id)
            continue
        await store.confirm(event.event_id)
        relayed += 1
    if relayed:
        log.info("outbox_relayed", count=relayed)
    return relayed


async def dead_letter(
    js: JetStreamContext,
    event_id: str,
    payload: bytes,
    event: Event | None,
    reason: str,
    error: Exception,
) -> None:
    """Store the entry in DEADLETTER with why; if it cannot be stored, the entry stays in
    the outbox (the exception ends the round) and is tried again, never dropped."""
    description = mask_text(f"{type(error).__name__}: {error}")[:1000]
    # The letter carries the (masked) event, or a stub if that is what was too large;
    # the whole text stays in the ticket record.
    body = encode(event) if event is not None else mask_text(payload.decode("utf-8", "replace"))
    if isinstance(body, str):
        body = body.encode()
    if len(body) > MAX_EVENT_BYTES:
        stub = event.model_dump_json(include={"event_id", "type", "ticket_id"}) if event else "{}"
        body = stub.encode()
    headers = {
        "Nats-Msg-Id": f"dlq:intake-outbox:{event_id}",
        REASON_HEADER: reason,
        ERROR_HEADER: description,
        SUBJECT_HEADER: subjects.for_event(event) if event is not None else "unknown",
        STREAM_HEADER: "intake-outbox",
    }
    if event is not None:
        headers[TICKET_HEADER] = event.ticket_id
    await js.publish(OUTBOX_LETTERS, body, headers=headers, timeout=5)
    log.error("outbox_dead_lettered", event_id=event_id, reason=reason, error=description)


async def relay_forever(
    store: TicketStore, js: JetStreamContext, grace: float, every: float = 2.0
) -> None:
    while True:
        try:
            await relay_once(store, js, grace)
        except Exception as error:  # noqa: BLE001 - keep relaying through outages
            log.warning("outbox_relay_failed", error=repr(error))
        await asyncio.sleep(every)
