"""The delivery policy every durable consumer runs under.

FastStream's default terminates a message the first time its handler raises, so it is
never retried. Here instead:
- a message that can never be handled (bad JSON, fails validation, `PoisonMessage`)
  goes to the dead-letter stream at once, with the reason, and is terminated;
- any other failure is retried with back-off until the consumer's `max_deliver`, then
  dead-lettered the same way;
- if the dead letter itself cannot be stored, the message is held and the store tried
  again until it is (never nacked for it: that would spend its deliveries), never dropped.
"""

import asyncio
import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import structlog
from faststream import BaseMiddleware
from faststream._internal.context.repository import ContextRepo
from faststream.exceptions import HandlerException, NackMessage, RejectMessage
from faststream.nats import NatsBroker
from nats.aio.msg import Msg
from pydantic import ValidationError
from typing_extensions import TypeIs

from chuishao.common import subjects
from chuishao.common.privacy import mask_text
from chuishao.common.publishing import CORRELATION_HEADER, TICKET_HEADER
from chuishao.common.streams import CONSUMERS
from chuishao.common.transient import backoff

log = structlog.get_logger()

REASON_HEADER = "Chuishao-Dead-Reason"
ERROR_HEADER = "Chuishao-Dead-Error"
SUBJECT_HEADER = "Chuishao-Dead-Subject"
STREAM_HEADER = "Chuishao-Dead-Stream"
SEQUENCE_HEADER = "Chuishao-Dead-Sequence"
DELIVERIES_HEADER = "Chuishao-Dead-Deliveries"
TRUNCATED_HEADER = "Chuishao-Dead-Truncated"  # the message's size, when cut to fit
HEADERS_ROOM = 8_192  # the dead letter's headers at most (the error is cut to 1,000)


class PoisonMessage(Exception):
    """Raised by a handler for a message that no retry can ever make acceptable."""


POISON = (PoisonMessage, ValidationError, json.JSONDecodeError, UnicodeDecodeError)


async def dead_letter(broker: NatsBroker, msg: Msg, *, reason: str, error: str) -> None:
    meta = msg.metadata
    headers = {key: value for key, value in (msg.headers or {}).items() if key != "Nats-Msg-Id"}
    headers |= {
        "Nats-Msg-Id": f"dlq:{meta.consumer}:{meta.sequence.stream}",
        # Errors quote what they failed on (a gateway's answer, a field's value): masked.
        REASON_HEADER: mask_text(reason),
        ERROR_HEADER: mask_text(error)[:1000],
        SUBJECT_HEADER: msg.subject,
        STREAM_HEADER: meta.stream,
        SEQUENCE_HEADER: str(meta.sequence.stream),
        DELIVERIES_HEADER: str(meta.num_delivered),
    }
    body = msg.data
    # The headers count against the server's max_payload too, and a publish over it makes
    # the server close the connection — the service's only one. The stream and sequence
    # above find the whole message (TICKETS keeps it).
    room = broker.connection.max_payload - HEADERS_ROOM
    if len(body) > room:
        headers[TRUNCATED_HEADER] = str(len(body))
        body = body[:room]
    await broker.connection.jetstream().publish(
        subjects.dead_letter(meta.consumer or "unknown"), body, headers=headers, timeout=5
    )


def _from_jetstream(msg: Any) -> TypeIs[Msg]:
    return isinstance(msg, Msg) and bool(msg.reply) and msg.reply.startswith("$JS.ACK")


class TicketOrder:
    """FastStream handles the messages of one pulled batch concurrently. Events of one
    ticket must still be applied in stream order, so a message waits for the earlier
    messages of its ticket in this process; other tickets go on in parallel. asyncio's
    locks are first come, first served, and batch messages start in stream order."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    async def enter(self, ticket_id: str) -> None:
        lock = self._locks.setdefault(ticket_id, asyncio.Lock())
        self._users[ticket_id] = self._users.get(ticket_id, 0) + 1
        try:
            await lock.acquire()
        except BaseException:  # cancelled while waiting: it never held the lock
            self._forget(ticket_id)
            raise

    def leave(self, ticket_id: str) -> None:
        self._locks[ticket_id].release()
        self._forget(ticket_id)

    def _forget(self, ticket_id: str) -> None:
        self._users[ticket_id] -= 1
        if self._users[ticket_id] == 0:
            del self._users[ticket_id], self._locks[ticket_id]


TICKET_ORDER = TicketOrder()


class DeliveryPolicy(BaseMiddleware):
    def __init__(self, msg: Any, /, *, context: ContextRepo, broker: NatsBroker) -> None:
        super().__init__(msg, context=context)
        self.broker = broker
        self.ordered_ticket: str | None = None

    @classmethod
    def factory(cls, broker_ref: Callable[[], NatsBroker]) -> Callable[..., "DeliveryPolicy"]:
        def make(msg: Any, /, *, context: ContextRepo) -> DeliveryPolicy:
            return cls(msg, context=context, broker=broker_ref())

        return make

    async def on_receive(self) -> None:
        headers = getattr(self.msg, "headers", None) or {}
        ticket_id = headers.get(TICKET_HEADER)
        structlog.contextvars.bind_contextvars(
            ticket_id=ticket_id, correlation_id=headers.get(CORRELATION_HEADER)
        )
        if ticket_id and _from_jetstream(self.msg):
            self.ordered_ticket = ticket_id
            await TICKET_ORDER.enter(ticket_id)

    async def after_processed(
        self,
        exc_type: type[BaseException] | None = None,
        exc_val: BaseException | None = None,
        exc_tb: TracebackType | None = None,
    ) -> bool | None:
        structlog.contextvars.unbind_contextvars("ticket_id", "correlation_id")
        try:
            return await self._settle(exc_val)
        finally:
            if self.ordered_ticket is not None:
                TICKET_ORDER.leave(self.ordered_ticket)
                self.ordered_ticket = None

    async def _settle(self, exc_val: BaseException | None) -> bool | None:
        if not isinstance(exc_val, Exception) or isinstance(exc_val, HandlerException):
            return False
        msg = self.msg
        if not _from_jetstream(msg):
            return False  # core NATS request: FastStream's own error reply applies
        failure = judge_failure(msg, exc_val)
        if failure.retry_after is not None:
            raise NackMessage(delay=failure.retry_after) from exc_val
        await store_dead_letter(self.broker, msg, failure)
        raise RejectMessage() from exc_val


DEAD_LETTER_RETRY_SECONDS = 5.0  # the longest wait between tries to store a dead letter


@dataclass(frozen=True)
class Failure:
    """What becomes of a message whose handler raised: tried again after `retry_after`
    seconds, or (None) dead-lettered for `reason`."""

    reason: str
    error: str
    retry_after: float | None


def judge_failure(msg: Msg, exc: Exception) -> Failure:
    """The policy's verdict on a failed JetStream message (logs a retry)."""
    meta = msg.metadata
    spec = CONSUMERS.get(meta.consumer or "")
    max_deliver = spec.max_deliver if spec else 1
    error = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, POISON):
        return Failure("unprocessable", error, None)
    if meta.num_delivered >= max_deliver:
        return Failure("retries_exhausted", error, None)
    delay = spec.retry_delay(meta.num_delivered) if spec else 1.0
    log.warning(
        "handler_failed_will_retry",
        error=error,
        delay_s=delay,
        delivered=meta.num_delivered,
        subject=msg.subject,
    )
    return Failure("retry", error, delay)


async def store_dead_letter(broker: NatsBroker, msg: Msg, failure: Failure) -> None:
    """Dead-letter `msg`. While the dead letter cannot be stored, the message is held —
    its ack wait renewed, the store tried again with back-off — rather than nacked: each
    nak spends one of the consumer's `max_deliver` deliveries, and once they are spent
    JetStream never delivers the message again (an outage of the dead-letter stream longer
    than the tries dropped it). Cancelled (the service stopping), the message is left
    unacknowledged, to be delivered again."""
    delays = backoff(0.2, DEAD_LETTER_RETRY_SECONDS)
    while True:
        try:
            await dead_letter(broker, msg, reason=failure.reason, error=failure.error)
            break
        except Exception as publish_error:  # noqa: BLE001 - whatever it was, try again
            log.error("dead_letter_failed", error=repr(publish_error), subject=msg.subject)
        with contextlib.suppress(Exception):  # the connection is down: it is held anyway
            await msg.in_progress()
        await asyncio.sleep(next(delays))
    log.error(
        "dead_lettered",
        reason=failure.reason,
        error=failure.error,
        subject=msg.subject,
        delivered=msg.metadata.num_delivered,
    )
