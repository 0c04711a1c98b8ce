"""Publishing events to JetStream: durable (PubAck) and de-duplicated (Nats-Msg-Id)."""

from nats.js import JetStreamContext
from nats.js.api import PubAck

from chuishao.common import subjects
from chuishao.common.errors import ApiError
from chuishao.common.events import Event
from chuishao.common.privacy import mask_event

TICKET_HEADER = "Chuishao-Ticket-Id"
CORRELATION_HEADER = "Chuishao-Correlation-Id"
TYPE_HEADER = "Chuishao-Event-Type"

# NATS refuses a message over its max_payload (1 MB by default). Events are kept well
# below, and refused before they are stored: a stored event that can never be published
# would fail every relay round.
MAX_EVENT_BYTES = 256 * 1024


class EventTooLarge(ApiError):
    """413: what was sent makes an event over MAX_EVENT_BYTES."""

    def __init__(self, size: int) -> None:
        kb, limit = -(-size // 1024), MAX_EVENT_BYTES // 1024
        super().__init__(
            413,
            "too_large",
            f"内容太多（约 {kb} KB，最多 {limit} KB）：请缩短描述或附加信息后重试",
            f"Too much content (about {kb} KB, at most {limit} KB): "
            "shorten the description or the attributes and retry",
        )


def check_size(event: Event, size: int | None = None) -> None:
    """Raises EventTooLarge if the event (`size` bytes of JSON, if known) is too large."""
    size = len(event.model_dump_json().encode()) if size is None else size
    if size > MAX_EVENT_BYTES:
        raise EventTooLarge(size)


def event_headers(event: Event) -> dict[str, str]:
    return {
        "Nats-Msg-Id": event.event_id,
        TYPE_HEADER: event.type,
        TICKET_HEADER: event.ticket_id,
        CORRELATION_HEADER: event.correlation_id,
    }


def encode(event: Event) -> bytes:
    """The bytes that go to a stream. Every event bound for TICKETS, units' feeds or any
    other stream is encoded here, so this is the one place free text typed outside
    (descriptions, notes, reasons, comments, a gateway's answer) is masked: phone and
    ID-card numbers never reach a broadcast event. Intake's record keeps the text whole."""
    return mask_event(event).model_dump_json().encode()


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
