"""Publishing events to JetStream: durable (PubAck) and de-duplicated (Nats-Msg-Id)."""

from nats.js import JetStreamContext
from nats.js.api import PubAck

from chuishao.common import subjects
from chuishao.common.events import Event

TICKET_HEADER = "Chuishao-Ticket-Id"
CORRELATION_HEADER = "Chuishao-Correlation-Id"
TYPE_HEADER = "Chuishao-Event-Type"


def event_headers(event: Event) -> dict[str, str]:
    return {
        "Nats-Msg-Id": event.event_id,
        TYPE_HEADER: event.type,
        TICKET_HEADER: event.ticket_id,
        CORRELATION_HEADER: event.correlation_id,
    }


def encode(event: Event) -> bytes:
    return event.model_dump_json().encode()


async def publish_event(
    js: JetStreamContext, event: Event, *, subject: str | None = None, timeout: float = 5.0
) -> PubAck:
    """Returns only once the stream has stored the event."""
    return await js.publish(
        subject or subjects.for_event(event),
        encode(event),
        timeout=timeout,
        headers=event_headers(event),
    )
