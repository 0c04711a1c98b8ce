"""A durable consumer that hands its handler a fetched batch as one unit (#18).

FastStream calls a handler once a message: each message pays the consume machinery
(≈ 250 µs of CPU here) and the handler's own round trips. This consumer, on plain
nats-py, fetches what is waiting (up to `batch_size`), validates each message's bytes
into the handler's model, and calls `handle(batch)` once: the handler reads and writes
the batch's state in a few round trips, then every message is acknowledged.

Latency: the first fetch waits for one message; only when the server says more are
pending (`num_pending`) is the rest fetched at once, so at low load a message goes
through alone without waiting for a batch to fill.

Delivery policy, as strong as the per-message one (chuishao.common.delivery):
- a message that fails validation is dead-lettered on its own; the batch goes on;
- if the batch's handler raises, its messages are handled one at a time (each as a
  batch of one), in stream order, so a poison message is dead-lettered
  alone and a transient failure nacks only the messages it affects (the handlers are
  idempotent: what the batch had written before failing is skipped);
- retries, back-off and dead letters are `judge_failure`'s, the same as FastStream's path.
Per-ticket order: one batch at a time, its messages in stream order.
"""

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

import structlog
from faststream.nats import NatsBroker
from faststream.prometheus.types import ProcessingStatus
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from pydantic import TypeAdapter

from chuishao.common.delivery import (
    POISON,
    judge_failure,
    store_dead_letter,
)
from chuishao.common.events import Event
from chuishao.common.metrics import metrics_of
from chuishao.common.streams import ConsumerSpec
from chuishao.common.transient import backoff

log = structlog.get_logger()
Model = TypeVar("Model")
Ticketed = TypeVar("Ticketed", bound=Event)

# After the first message, the rest of what is pending: it is already there, so this
# only waits when another replica took it meanwhile.
REST_TIMEOUT = 0.2
STOP_TIMEOUT = 10.0  # for the batch in hand to be settled


def one_per_ticket(events: Sequence[Ticketed]) -> list[list[Ticketed]]:
    """`events` cut in order into parts that name each ticket at most once: for a handler
    that reads a part's states together and writes each with its own compare-and-set."""
    parts: list[list[Ticketed]] = []
    seen: set[str] = set()
    for event in events:
        if not parts or event.ticket_id in seen:
            parts.append([])
            seen.clear()
        parts[-1].append(event)
        seen.add(event.ticket_id)
    return parts


class BatchConsumer(Generic[Model]):
    def __init__(
        self,
        broker: NatsBroker,
        spec: ConsumerSpec,
        model: Any,
        handle: Callable[[list[Model]], Awaitable[None]],
        *,
        batch_size: int = 64,
        fetch_timeout: float = 1.0,
    ) -> None:
        self.broker = broker
        self.spec = spec
        self.adapter: TypeAdapter[Model] = TypeAdapter(model)
        self.handle = handle
        self.batch_size = batch_size
        self.fetch_timeout = fetch_timeout
        self.batches = 0
        self.largest = 0
        self._stopping = asyncio.Event()
        self._handling = False
        self._task: asyncio.Task[None] | None = None
        self._subscription: JetStreamContext.PullSubscription | None = None
        self._metrics = metrics_of(broker)
        self._sizes = self._metrics.batch_sizes.labels(consumer=spec.name)

    @property
    def name(self) -> str:
        return self.spec.name

    async def start(self) -> None:
        js = self.broker.connection.jetstream()
        self._subscription = await js.pull_subscribe_bind(
            durable=self.spec.name, stream=self.spec.stream
        )
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name=f"batches {self.name}")

    async def stop(self) -> None:
        """Ends after the batch in hand (its messages settled); a wait for messages is
        cut short (nothing fetched yet is lost: unacknowledged, it is delivered again)."""
        self._stopping.set()
        task, self._task = self._task, None
        if task is not None:
            if not self._handling:
                task.cancel()
            done, _ = await asyncio.wait([task], timeout=STOP_TIMEOUT)
            if not done:
                task.cancel()
                await asyncio.wait([task])
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            with contextlib.suppress(Exception):  # a connection already closed
                await subscription.unsubscribe()

    async def _run(self) -> None:
        delays = None
        while not self._stopping.is_set():
            try:
                messages = await self._fetch()
            except TimeoutError:
                continue
            except Exception as error:  # noqa: BLE001 - a restarting server: wait, go on
                delays = delays or backoff(0.5, 5.0)
                delay = next(delays)
                log.warning("batch_fetch_failed", consumer=self.name, error=repr(error))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), delay)
                continue
            delays = None
            self._handling = True
            try:
                await self._handle(messages)
            except Exception as error:  # noqa: BLE001 - an ack or nak lost with the connection
                # What was not settled is delivered again after its ack wait; the consumer
                # must live on (the handlers are idempotent).
                log.error("batch_settling_failed", consumer=self.name, error=repr(error))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), 1.0)
            finally:
                self._handling = False

    async def _fetch(self) -> list[Msg]:
        assert self._subscription is not None
        messages = await self._subscription.fetch(1, timeout=self.fetch_timeout)
        pending = messages[-1].metadata.num_pending if messages else 0
        if pending and self.batch_size > 1:
            try:
                messages += await self._subscription.fetch(
                    min(pending, self.batch_size - 1), timeout=REST_TIMEOUT
                )
            except TimeoutError:
                pass
            except Exception as error:  # noqa: BLE001 - the first is in hand: handle it now
                # Raised, it would be left to its ack wait while the next round handles
                # what follows it: the ticket's events out of order.
                log.warning("batch_fetch_rest_failed", consumer=self.name, error=repr(error))
        return messages

    async def _handle(self, messages: list[Msg]) -> None:
        started = time.perf_counter()
        valid: list[tuple[Msg, Model]] = []
        for msg in messages:
            try:
                valid.append((msg, self.adapter.validate_json(msg.data)))
            except POISON as error:
                await self._failed(msg, error)
        if not valid:
            return
        self.batches += 1
        self.largest = max(self.largest, len(valid))
        self._sizes.observe(len(valid))
        try:
            await self.handle([item for _, item in valid])
        except Exception as error:  # noqa: BLE001 - settled message by message below
            if len(valid) == 1:
                await self._failed(valid[0][0], error)
                return
            log.warning(
                "batch_failed_one_at_a_time",
                consumer=self.name,
                messages=len(valid),
                error=f"{type(error).__name__}: {error}",
            )
            await self._one_at_a_time(valid)
            return
        share = (time.perf_counter() - started) / len(valid)
        for msg, _ in valid:
            await msg.ack()
            self._count(msg, ProcessingStatus.acked, "handled", share)

    async def _one_at_a_time(self, valid: list[tuple[Msg, Model]]) -> None:
        for msg, item in valid:
            started = time.perf_counter()
            try:
                await self.handle([item])
            except Exception as error:  # noqa: BLE001 - the delivery policy decides
                await self._failed(msg, error)
                continue
            await msg.ack()
            self._count(msg, ProcessingStatus.acked, "handled", time.perf_counter() - started)

    async def _failed(self, msg: Msg, error: Exception) -> None:
        failure = judge_failure(msg, error)
        if failure.retry_after is not None:
            await msg.nak(delay=failure.retry_after)
            self._count(msg, ProcessingStatus.nacked, "retried")
        else:
            await store_dead_letter(self.broker, msg, failure)
            await msg.term()
            self._count(msg, ProcessingStatus.rejected, "dead_lettered")

    def _count(
        self, msg: Msg, status: ProcessingStatus, outcome: str, seconds: float | None = None
    ) -> None:
        """The same series as FastStream's consumers: its Prometheus middleware's (the
        duration is the message's share of its batch) and the outcome counter."""
        metrics = self._metrics
        handled = metrics.prometheus.handler(msg.subject)
        handled.received.inc()
        handled.size.observe(len(msg.data))
        handled.processed(status).inc()
        if seconds is not None:
            handled.duration.observe(seconds)
        metrics.count_outcome(self.name, outcome)
