"""Prometheus metrics every service exposes on `/metrics`.

Each broker gets its own registry (a process may build several brokers, as the tests
do), holding:
- FastStream's Prometheus metrics: messages received and handled by status, handler
  latency (`faststream_received_processed_messages_duration_seconds`), exceptions by
  type, publishes. Its `handler` label is the subject with the ticket id (or unit,
  channel) replaced by `*`, so the number of series stays bounded at city scale. They are
  recorded by `BoundPrometheus`, which binds each handler's children once instead of
  looking them up for every message (FastStream's own middleware stays for batches).
- `chuishao_consumer_messages_total{consumer, outcome}`: what the delivery policy made
  of each message — handled, retried (nacked with back-off) or dead_lettered.
- the process collector (CPU, memory, open files).

FastAPI services mount `metrics_endpoint(broker)`; the services without HTTP serve
`/metrics` and `/health` on the port given by `CHUISHAO_<SERVICE>_METRICS_PORT` (0 switches
it off), through their runtime (`chuishao.common.runtime.serve`, `MetricsServer`).
"""

import asyncio
import contextlib
import json
import time
import weakref
from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType
from typing import Any, Generic, TypeVar

import structlog
from faststream import BaseMiddleware
from faststream._internal.context.repository import ContextRepo
from faststream.exceptions import IgnoredException, NackMessage, RejectMessage
from faststream.message import SourceType
from faststream.message.message import StreamMessage
from faststream.nats import NatsBroker
from faststream.nats.prometheus.provider import (
    BatchNatsMetricsSettingsProvider,
    NatsMetricsSettingsProvider,
)
from faststream.nats.response import NatsPublishCommand
from faststream.prometheus import ConsumeAttrs
from faststream.prometheus.consts import (
    PROCESSING_STATUS_BY_ACK_STATUS,
    PROCESSING_STATUS_BY_HANDLER_EXCEPTION_MAP,
)
from faststream.prometheus.container import MetricsContainer
from faststream.prometheus.middleware import PrometheusMiddleware
from faststream.prometheus.types import ProcessingStatus
from faststream.response import PublishCommand, PublishType
from nats.aio.msg import Msg
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from chuishao.common import subjects
from chuishao.common.settings import ENV_PREFIX

log = structlog.get_logger()

# Metric labels name a subject's pattern, never its ids (chuishao.common.subjects).
subject_pattern = subjects.pattern_of


class _Subjects(NatsMetricsSettingsProvider):
    def get_consume_attrs_from_message(self, msg: StreamMessage[Msg]) -> ConsumeAttrs:
        attrs = super().get_consume_attrs_from_message(msg)
        return attrs | {"destination_name": subject_pattern(attrs["destination_name"])}

    def get_publish_destination_name_from_cmd(self, cmd: PublishCommand) -> str:
        return subject_pattern(cmd.destination)


class _BatchSubjects(BatchNatsMetricsSettingsProvider):
    def get_consume_attrs_from_message(self, msg: StreamMessage[list[Msg]]) -> ConsumeAttrs:
        attrs = super().get_consume_attrs_from_message(msg)
        return attrs | {"destination_name": subject_pattern(attrs["destination_name"])}

    def get_publish_destination_name_from_cmd(self, cmd: PublishCommand) -> str:
        return subject_pattern(cmd.destination)


def _provider(msg: Msg | Sequence[Msg] | None) -> _Subjects | _BatchSubjects | None:
    if isinstance(msg, Sequence):
        return _BatchSubjects()
    if isinstance(msg, Msg) or msg is None:
        return _Subjects()
    return None  # key-value and object-store watches


K = TypeVar("K")


class _Children(Generic[K]):
    """The children of one labelled counter for one handler or destination, one per value
    of its remaining label (a status, an exception type), each bound the first time that
    value is seen and reused after."""

    __slots__ = ("_bound", "_counter", "_label", "_labels", "_value")

    def __init__(
        self, counter: Counter, labels: dict[str, str], label: str, value: Callable[[K], str]
    ) -> None:
        self._counter, self._labels, self._label, self._value = counter, labels, label, value
        self._bound: dict[K, Counter] = {}

    def __call__(self, key: K) -> Counter:
        child = self._bound.get(key)
        if child is None:
            child = self._bound[key] = self._counter.labels(
                **{self._label: self._value(key)}, **self._labels
            )
        return child


class _Handled:
    """The children of one handler (a subject's pattern), bound once. FastStream's own
    middleware looks each up with `.labels(...)` — a lock, a tuple and a dict probe — six
    times a message, a third of the runtime's own cost per message."""

    __slots__ = ("duration", "failed", "in_process", "processed", "received", "size")

    def __init__(self, metrics: MetricsContainer, labels: dict[str, str]) -> None:
        self.received = metrics.received_messages_total.labels(**labels)
        self.size = metrics.received_messages_size_bytes.labels(**labels)
        self.in_process = metrics.received_messages_in_process.labels(**labels)
        self.duration = metrics.received_processed_messages_duration_seconds.labels(**labels)
        self.processed = _Children[ProcessingStatus](
            metrics.received_processed_messages_total, labels, "status", lambda s: s.value
        )
        self.failed = _Children[str](
            metrics.received_processed_messages_exceptions_total, labels, "exception_type", str
        )


class _Published:
    """The children of one publishing destination (a subject's pattern), bound once."""

    __slots__ = ("duration", "failed", "published")

    def __init__(self, metrics: MetricsContainer, labels: dict[str, str]) -> None:
        self.duration: Histogram = metrics.published_messages_duration_seconds.labels(**labels)
        self.published = _Children[bool](
            metrics.published_messages_total,
            labels,
            "status",
            lambda ok: "success" if ok else "error",
        )
        self.failed = _Children[str](
            metrics.published_messages_exceptions_total, labels, "exception_type", str
        )


class BoundPrometheus:
    """FastStream's Prometheus metrics (same names, labels and meaning as its
    `PrometheusMiddleware`, which stays for batches and key-value watches) with each
    handler's and destination's children bound once and reused for every message."""

    def __init__(self, registry: CollectorRegistry, app_name: str) -> None:
        self.fallback: PrometheusMiddleware[Msg | Sequence[Msg], NatsPublishCommand] = (
            PrometheusMiddleware(
                settings_provider_factory=_provider,  # type: ignore[arg-type]
                registry=registry,
                app_name=app_name,
            )
        )
        # The same metric objects: the container finds them registered by the fallback.
        self.metrics = MetricsContainer(registry, custom_label_names=())
        self.app_name = app_name
        self._handlers: dict[str, _Handled] = {}
        self._destinations: dict[str, _Published] = {}

    def __call__(
        self, msg: Msg | Sequence[Msg] | None, /, *, context: ContextRepo
    ) -> BaseMiddleware[Any, Any]:
        if isinstance(msg, Msg) or msg is None:
            return _Measured(msg, context=context, owner=self)
        return self.fallback(msg, context=context)

    def handler(self, subject: str) -> _Handled:
        pattern = subject_pattern(subject)  # bounded: the ids are wildcards
        handled = self._handlers.get(pattern)
        if handled is None:
            labels = {"app_name": self.app_name, "broker": "nats", "handler": pattern}
            handled = self._handlers[pattern] = _Handled(self.metrics, labels)
        return handled

    def destination(self, subject: str) -> _Published:
        pattern = subject_pattern(subject)
        published = self._destinations.get(pattern)
        if published is None:
            labels = {"app_name": self.app_name, "broker": "nats", "destination": pattern}
            published = self._destinations[pattern] = _Published(self.metrics, labels)
        return published


class _Measured(BaseMiddleware[Any, Any]):
    """What FastStream's `BasePrometheusMiddleware` records, through bound children."""

    def __init__(self, msg: Msg | None, /, *, context: ContextRepo, owner: BoundPrometheus) -> None:
        super().__init__(msg, context=context)
        self.owner = owner

    async def consume_scope(
        self, call_next: Callable[[StreamMessage[Msg]], Awaitable[Any]], msg: StreamMessage[Msg]
    ) -> Any:
        if msg.source_type is SourceType.RESPONSE:
            return await call_next(msg)
        handled = self.owner.handler(msg.raw_message.subject)
        handled.received.inc()
        handled.size.observe(len(msg.body))
        handled.in_process.inc()
        error: Exception | None = None
        started = time.perf_counter()
        try:
            return await call_next(msg)
        except Exception as exc:
            error = exc
            if not isinstance(exc, IgnoredException):
                handled.failed(type(exc).__name__).inc()
            raise
        finally:
            handled.duration.observe(time.perf_counter() - started)
            handled.in_process.dec()
            status = ProcessingStatus.acked
            if msg.committed or error:
                status = (
                    PROCESSING_STATUS_BY_ACK_STATUS.get(msg.committed)  # type: ignore[arg-type]
                    or PROCESSING_STATUS_BY_HANDLER_EXCEPTION_MAP.get(type(error))
                    or ProcessingStatus.error
                )
            handled.processed(status).inc()

    async def publish_scope(
        self, call_next: Callable[[PublishCommand], Awaitable[Any]], cmd: PublishCommand
    ) -> Any:
        if cmd.publish_type is PublishType.REPLY:
            return await call_next(cmd)
        published = self.owner.destination(cmd.destination)
        ok = False
        started = time.perf_counter()
        try:
            result = await call_next(cmd)
            ok = True
            return result
        except Exception as exc:
            published.failed(type(exc).__name__).inc()
            raise
        finally:
            published.duration.observe(time.perf_counter() - started)
            published.published(ok).inc(len(cmd.batch_bodies))


class ConsumerOutcomes(BaseMiddleware):
    """Counts what became of each JetStream message. It sits outside the delivery
    policy, so it sees the policy's verdict: RejectMessage after a dead letter,
    NackMessage for a retry."""

    def __init__(
        self, msg: Any, /, *, context: ContextRepo, count: Callable[[str, str], None]
    ) -> None:
        super().__init__(msg, context=context)
        self.count = count

    async def after_processed(
        self,
        exc_type: type[BaseException] | None = None,
        exc_val: BaseException | None = None,
        exc_tb: TracebackType | None = None,
    ) -> bool | None:
        msg = self.msg
        if isinstance(msg, Msg) and msg.reply.startswith("$JS.ACK"):
            consumer = msg.metadata.consumer or "unknown"
            if exc_val is None:
                outcome = "handled"
            elif isinstance(exc_val, RejectMessage):
                outcome = "dead_lettered"
            elif isinstance(exc_val, NackMessage):
                outcome = "retried"
            else:
                outcome = "failed"
            self.count(consumer, outcome)
        return False


class BrokerMetrics:
    """The registry of one broker and the middlewares that fill it."""

    def __init__(self, app_name: str = "chuishao") -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self.prometheus = BoundPrometheus(self.registry, app_name)
        self.outcomes = Counter(
            "chuishao_consumer_messages",
            "JetStream messages by durable consumer and outcome "
            "(handled, retried, dead_lettered, failed)",
            ["consumer", "outcome"],
            registry=self.registry,
        )
        self._outcomes: dict[tuple[str, str], Counter] = {}
        self.batch_sizes = Histogram(
            "chuishao_consumer_batch_size",
            "Messages a batch consumer handled as one unit (chuishao.common.batches)",
            ["consumer"],
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000),
            registry=self.registry,
        )

    def count_outcome(self, consumer: str, outcome: str) -> None:
        """One message's outcome, through a child bound once per consumer and outcome."""
        child = self._outcomes.get((consumer, outcome))
        if child is None:
            child = self._outcomes[consumer, outcome] = self.outcomes.labels(
                consumer=consumer, outcome=outcome
            )
        child.inc()

    def outcome_middleware(self) -> Callable[..., ConsumerOutcomes]:
        def make(msg: Any, /, *, context: ContextRepo) -> ConsumerOutcomes:
            return ConsumerOutcomes(msg, context=context, count=self.count_outcome)

        return make

    def render(self) -> bytes:
        return generate_latest(self.registry)


_BY_BROKER: "weakref.WeakKeyDictionary[NatsBroker, BrokerMetrics]" = weakref.WeakKeyDictionary()


def attach(broker: NatsBroker, metrics: BrokerMetrics) -> None:
    _BY_BROKER[broker] = metrics


def metrics_of(broker: NatsBroker) -> BrokerMetrics:
    """The metrics `make_broker` set up for this broker."""
    return _BY_BROKER[broker]


def metrics_endpoint(broker: NatsBroker) -> Callable[[Any], Any]:
    """A Starlette/FastAPI endpoint: `app.add_route("/metrics", metrics_endpoint(broker),
    include_in_schema=False)`. Starlette is imported here: services without HTTP lack it."""
    from starlette.responses import Response  # noqa: PLC0415

    def metrics(_request: Any) -> Response:
        return Response(metrics_of(broker).render(), media_type=CONTENT_TYPE_LATEST)

    return metrics


class MetricsSettings(BaseSettings):
    """Where FastStream-only services serve `/metrics` (0: not at all). In containers set
    CHUISHAO_METRICS_HOST=0.0.0.0 so Prometheus can reach it."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=".env", extra="ignore")

    metrics_host: str = "127.0.0.1"
    router_metrics_port: int = 9101
    sla_metrics_port: int = 9102
    notify_metrics_port: int = 9103
    points_metrics_port: int = 9104

    def port_of(self, service: str) -> int:
        port = getattr(self, f"{service}_metrics_port", 0)
        return int(port)


Health = Callable[[], Awaitable[dict[str, str]]]

# What a scrape or a probe may send before its request is refused (it never needs more).
REQUEST_TIMEOUT = 5.0
MAX_REQUEST_BYTES = 16_384


class MetricsServer:
    """`/metrics` and `/health` on their own port, served on the service's own event loop:
    the health check asks Redis through the service's client, and a loop that stopped
    turning stops answering both (a thread beside it would answer on)."""

    def __init__(
        self, metrics: BrokerMetrics, host: str, port: int, health: Health | None = None
    ) -> None:
        self.metrics, self.host, self.port, self.health = metrics, host, port, health
        self._server: asyncio.Server | None = None

    async def start(self, service: str) -> None:
        if self.port == 0:
            return
        try:
            self._server = await asyncio.start_server(self._answer, self.host, self.port)
        except OSError as error:
            # Metrics are worth less than the service: run on, loudly, without them.
            log.error("metrics_port_unavailable", service=service, port=self.port, error=str(error))
            return
        log.info("metrics_serving", service=service, url=f"http://{self.host}:{self.port}/metrics")

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await server.wait_closed()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                head = await reader.readuntil(b"\r\n\r\n")
            method, target, *_ = head.decode("latin-1").split(" ", 2)
            status, media_type, body = await self._response(method, target.split("?", 1)[0])
        except (TimeoutError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            status, media_type, body = "400 Bad Request", "text/plain", b"bad request\n"
        except ConnectionError:
            writer.close()
            return
        writer.write(
            f"HTTP/1.1 {status}\r\nContent-Type: {media_type}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()

    async def _response(self, method: str, path: str) -> tuple[str, str, bytes]:
        if method not in ("GET", "HEAD"):
            return "405 Method Not Allowed", "text/plain", b"GET only\n"
        if path == "/metrics":
            return "200 OK", CONTENT_TYPE_LATEST, self.metrics.render()
        if path == "/health" and self.health is not None:
            try:
                answer = await self.health()
            except Exception as error:  # noqa: BLE001 - any failure means "not healthy"
                answer = {"status": "unavailable", "error": type(error).__name__}
                return "503 Service Unavailable", "application/json", _json(answer)
            return "200 OK", "application/json", _json(answer)
        return "404 Not Found", "text/plain", b"not found\n"


def _json(answer: dict[str, str]) -> bytes:
    return json.dumps(answer, ensure_ascii=False).encode()
