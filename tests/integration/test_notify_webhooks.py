"""Notify's unit channels against real servers and a real HTTP receiver on loopback: the
unit's own subject, the signed webhook, retries on 5xx and timeouts, none on 4xx, dead
letters listed and replayed from the command line, and nothing sent twice."""

import asyncio
import json
import sys
import threading
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from random import Random

import httpx
import pytest
from nats.js import JetStreamContext
from nats.js.api import RawStreamMsg
from nats.js.errors import NotFoundError
from redis.asyncio import Redis

from chuishao.common.clock import ManualClock
from chuishao.common.domain import ClockKind, Level, Role
from chuishao.common.events import (
    DeliveryFailed,
    SlaWarning,
    TicketDispatched,
    UnitNotified,
    parse_event,
)
from chuishao.common.handled import KEEP_SECONDS, forget_handled, handled_key
from chuishao.common.streams import provision
from chuishao.common.units import UnitContact, publish_units
from chuishao.embedded import free_port
from chuishao.notify.bootstrap import bootstrap
from chuishao.notify.delivery_log import DeliveryLog
from chuishao.notify.jobs import DeliveryJob
from chuishao.notify.service import NotifyService
from chuishao.notify.settings import NotifySettings
from chuishao.notify.signing import DELIVERY_HEADER, verify
from support.factories import dispatched, submitted
from support.servers import Servers

pytestmark = pytest.mark.usefixtures("clean")

SECRET = "whsec-grid-heyuan-test"
UNIT = "grid-heyuan"
MORNING = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)  # 10:00 in Beijing


@dataclass(frozen=True)
class Received:
    path: str
    headers: httpx.Headers  # case-insensitive, like the request's own
    body: bytes


class Receiver:
    """A real HTTP server on a free loopback port that records what it is sent and answers
    with scripted statuses (200 once the script for a path runs out). A status of 0 means
    "say nothing for a while": the caller's timeout fires."""

    def __init__(self, stall_seconds: float = 1.0) -> None:
        self.requests: list[Received] = []
        self.scripts: dict[str, deque[int]] = defaultdict(deque)
        self.stall_seconds = stall_seconds
        self.port = free_port()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append(
                    Received(self.path, httpx.Headers(list(self.headers.items())), body)
                )
                script = receiver.scripts[self.path.split("?")[0]]
                status = script.popleft() if script else 200
                if status == 0:
                    time.sleep(receiver.stall_seconds)
                    status = 200
                reply = b'{"code": "OK", "errcode": 0}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, path: str, *statuses: int) -> None:
        self.scripts[path].extend(statuses)

    def to(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path.split("?")[0] == path]

    def __enter__(self) -> "Receiver":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


async def until(condition: Callable[[], object], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition never held"
        await asyncio.sleep(0.02)


async def until_async(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "condition never held"
        await asyncio.sleep(0.02)


async def stored(js: JetStreamContext, stream: str, subject: str) -> list[RawStreamMsg]:
    found: list[RawStreamMsg] = []
    seq = 1
    while True:
        try:
            msg = await js.get_msg(stream, seq=seq, subject=subject, next=True)
        except NotFoundError:
            return found
        found.append(msg)
        seq = (msg.seq or seq) + 1


def settings_for(servers: Servers, **overrides: object) -> NotifySettings:
    values: dict[str, object] = {
        "nats_url": servers.nats_url,
        "redis_url": servers.redis_url,
        "webhook_secrets": {UNIT: SECRET},
        "webhook_timeout_seconds": 0.5,
        "delivery_attempts": 3,
        "retry_base_seconds": 0.05,
        "retry_cap_seconds": 0.2,
        "sweep_interval_seconds": 0.05,
        "log_format": "json",
        **overrides,
    }
    return NotifySettings.model_validate(values)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MORNING)


@pytest.fixture
async def notify(
    servers: Servers, js: JetStreamContext, receiver: Receiver, clock: ManualClock
) -> AsyncIterator[NotifyService]:
    await provision(js)
    await publish_units(
        js,
        [
            UnitContact(
                id=UNIT,
                name="和园社区网格站",
                kind="community",
                level=Level.COMMUNITY,
                webhook_url=receiver.url(f"/hooks/{UNIT}"),
            ),
            UnitContact(id="cg-district", name="区城管委", kind="department", level=Level.DISTRICT),
        ],
    )
    service = bootstrap(settings_for(servers), clock=clock, rng=Random(7))
    async with service.runtime.running():
        yield service


async def publish(js: JetStreamContext, event: object, msg_id: str | None = None) -> None:
    from chuishao.common.publishing import encode, event_headers
    from chuishao.common.subjects import for_event

    headers = event_headers(event)  # type: ignore[arg-type]
    if msg_id:
        headers["Nats-Msg-Id"] = msg_id
    await js.publish(for_event(event), encode(event), headers=headers)  # type: ignore[arg-type]


async def delivery_log(notify: NotifyService, ticket_id: str) -> DeliveryLog:
    return await notify.history.read(ticket_id)


HOOK = f"/hooks/{UNIT}"


async def test_a_dispatch_reaches_the_units_subject_and_its_signed_webhook(
    js: JetStreamContext, notify: NotifyService, receiver: Receiver, clock: ManualClock
) -> None:
    dispatch = dispatched(submitted())
    await publish(js, dispatch)

    await until(lambda: receiver.to(HOOK))
    [call] = receiver.to(HOOK)
    assert verify(SECRET, call.headers, call.body, now=clock.now())
    assert not verify("someone-elses-secret", call.headers, call.body, now=clock.now())
    assert not verify(SECRET, call.headers, call.body + b" ", now=clock.now())
    body = json.loads(call.body)
    assert body["delivery_id"] == call.headers[DELIVERY_HEADER]
    assert body["template"] == "dispatch"
    assert body["text"].startswith("【日常哨】和园社区网格站：请作为主办单位办理工单")
    assert TicketDispatched.model_validate(body["event"]) == dispatch

    [on_subject] = await stored(js, "UNITS", f"dept.{UNIT}.>")
    assert on_subject.subject == f"dept.{UNIT}.dispatched.{dispatch.ticket_id}"
    assert TicketDispatched.model_validate_json(on_subject.data or b"") == dispatch
    await until_async(lambda: _notified_channels(js, {"nats", "webhook"}))


async def _notified_channels(js: JetStreamContext, expected: set[str]) -> bool:
    events = [
        parse_event(m.data or b"") for m in await stored(js, "TICKETS", "ticket.unit_notified.*")
    ]
    return {e.channel for e in events if isinstance(e, UnitNotified)} == expected


async def test_a_503_is_retried_with_the_same_delivery_id_until_it_succeeds(
    js: JetStreamContext, notify: NotifyService, receiver: Receiver, clock: ManualClock
) -> None:
    receiver.answer(HOOK, 503, 503)
    dispatch = dispatched(submitted())
    await publish(js, dispatch)

    await until_async(lambda: _webhook_sent(notify, dispatch.ticket_id))
    await asyncio.sleep(0.3)  # time enough for a fourth call, were there one
    calls = receiver.to(HOOK)
    assert len(calls) == 3
    assert len({c.headers[DELIVERY_HEADER] for c in calls}) == 1
    assert all(verify(SECRET, c.headers, c.body, now=clock.now()) for c in calls)
    history = await delivery_log(notify, dispatch.ticket_id)
    webhook = [e.status for e in history.entries if e.channel == "webhook"]
    assert webhook == ["retrying", "retrying", "sent"]
    assert await stored(js, "DEADLETTER", "dlq.>") == []


async def test_a_timeout_is_retried(
    js: JetStreamContext, notify: NotifyService, receiver: Receiver
) -> None:
    receiver.answer(HOOK, 0)  # stalls past the 0.5 s timeout once
    await publish(js, dispatched(submitted()))
    await until(lambda: len(receiver.to(HOOK)) == 2)
    await until_async(lambda: _webhook_sent(notify, submitted().ticket_id))
    history = await delivery_log(notify, submitted().ticket_id)
    [retry] = [e for e in history.entries if e.status == "retrying"]
    assert retry.detail.startswith("ReadTimeout")


async def _webhook_sent(notify: NotifyService, ticket_id: str) -> bool:
    log = await delivery_log(notify, ticket_id)
    return any(e.channel == "webhook" and e.status == "sent" for e in log.entries)


async def test_a_400_is_not_retried_and_goes_to_the_dead_letters(
    js: JetStreamContext, notify: NotifyService, receiver: Receiver
) -> None:
    receiver.answer(HOOK, 400)
    dispatch = dispatched(submitted())
    await publish(js, dispatch)

    await until_async(lambda: _count(js, "DEADLETTER", "dlq.notify-deliveries", 1))
    await asyncio.sleep(0.3)  # time enough for retries, were there any
    assert len(receiver.to(HOOK)) == 1
    [letter] = await stored(js, "DEADLETTER", "dlq.notify-deliveries")
    assert (letter.headers or {})["Chuishao-Dead-Reason"] == "rejected"
    assert "HTTP 400" in (letter.headers or {})["Chuishao-Dead-Error"]
    await until_async(lambda: _count(js, "TICKETS", "ticket.delivery_failed.*", 1))
    [failed] = await stored(js, "TICKETS", "ticket.delivery_failed.*")
    failure = parse_event(failed.data or b"")
    assert isinstance(failure, DeliveryFailed)
    assert (failure.recipient, failure.channel, failure.attempts) == (UNIT, "webhook", 1)


async def _count(js: JetStreamContext, stream: str, subject: str, n: int) -> bool:
    return len(await stored(js, stream, subject)) == n


async def cli(servers: Servers, *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "chuishao.notify.deadletters",
        *args,
        env={"CHUISHAO_NATS_URL": servers.nats_url, "CHUISHAO_REDIS_URL": servers.redis_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return out.decode()


async def test_exhausted_retries_are_dead_lettered_and_a_replay_from_the_cli_delivers(
    servers: Servers, js: JetStreamContext, notify: NotifyService, receiver: Receiver
) -> None:
    receiver.answer(HOOK, 503, 502, 504)  # as many failures as attempts
    dispatch = dispatched(submitted())
    await publish(js, dispatch)
    await until_async(lambda: _count(js, "DEADLETTER", "dlq.notify-deliveries", 1))
    assert len(receiver.to(HOOK)) == 3

    [listed] = json.loads(await cli(servers, "list", "--json"))
    assert listed["reason"] == "retries_exhausted"
    assert listed["deliveries"] == 3
    assert listed["ticket_id"] == dispatch.ticket_id
    assert listed["what"] == f"webhook dispatch -> {UNIT}"
    assert "HTTP 504" in listed["error"]

    assert "queued again" in await cli(servers, "replay", str(listed["seq"]))
    await until(lambda: len(receiver.to(HOOK)) == 4)
    await until_async(lambda: _webhook_sent(notify, dispatch.ticket_id))
    assert json.loads(await cli(servers, "list", "--json")) == []
    delivery_ids = {c.headers[DELIVERY_HEADER] for c in receiver.to(HOOK)}
    assert len(delivery_ids) == 1  # the receiver can tell the replay is the same delivery


async def test_a_redelivered_or_replayed_event_sends_nothing_twice(
    js: JetStreamContext, notify: NotifyService, receiver: Receiver, redis: Redis
) -> None:
    dispatch = dispatched(submitted())
    await publish(js, dispatch)
    await until_async(lambda: _webhook_sent(notify, dispatch.ticket_id))

    # Past JetStream's duplicate window the same event comes back with a new message id.
    await publish(js, dispatch, msg_id="redelivered-1")
    # And again, as if notify had crashed before it marked the event handled.
    await forget_handled(redis, "notify", dispatch)
    await publish(js, dispatch, msg_id="redelivered-2")
    # And the job itself replayed after the window, as a new message.
    [job] = await notify.fanout.handle(dispatch)
    assert isinstance(job, DeliveryJob)
    await js.publish(job.subject, job.model_dump_json().encode(), headers={"Nats-Msg-Id": "x"})

    await until_async(lambda: _has_status(notify, dispatch.ticket_id, "duplicate"))
    await asyncio.sleep(0.3)
    assert len(receiver.to(HOOK)) == 1
    assert len(await stored(js, "UNITS", f"dept.{UNIT}.>")) == 1
    assert 0 < await redis.ttl(handled_key("notify", dispatch.ticket_id)) <= KEEP_SECONDS


async def _has_status(notify: NotifyService, ticket_id: str, status: str) -> bool:
    log = await delivery_log(notify, ticket_id)
    return any(e.status == status for e in log.entries)


async def test_an_sla_warning_urges_the_lead_unit(
    js: JetStreamContext, notify: NotifyService, receiver: Receiver
) -> None:
    cause = submitted()
    dispatch = dispatched(cause)
    await publish(js, dispatch)
    await until(lambda: receiver.to(HOOK))
    warning = SlaWarning.caused_by(
        dispatch,
        producer="sla",
        occurred_at=MORNING,
        clock=ClockKind.RESOLUTION,
        level=Level.COMMUNITY,
        deadline=datetime(2026, 1, 7, 1, 1, tzinfo=UTC),
        remaining_seconds=4 * 3600,
    )
    await publish(js, warning)
    await until(lambda: len(receiver.to(HOOK)) == 2)
    body = json.loads(receiver.to(HOOK)[1].body)
    assert body["template"] == "urge"
    assert body["text"].startswith("【催办】和园社区网格站：工单")
    assert "办结时限将于1月7日09:01到期（剩余约4小时）" in body["text"]
    [urge] = await stored(js, "UNITS", f"dept.{UNIT}.sla_warning.*")
    assert SlaWarning.model_validate_json(urge.data or b"") == warning


async def test_a_unit_without_a_secret_is_never_called_unsigned(
    servers: Servers, js: JetStreamContext, receiver: Receiver, clock: ManualClock
) -> None:
    await provision(js)
    await publish_units(
        js,
        [
            UnitContact(
                id="no-secret",
                name="某物业",
                kind="co_building",
                level=Level.COMMUNITY,
                webhook_url=receiver.url("/hooks/no-secret"),
            )
        ],
    )
    service = bootstrap(settings_for(servers), clock=clock, rng=Random(1))
    async with service.runtime.running():
        dispatch = dispatched(submitted(), unit_id="no-secret")
        await publish(js, dispatch.model_copy(update={"role": Role.CO}))
        await until_async(lambda: _count(js, "DEADLETTER", "dlq.notify-deliveries", 1))
    assert receiver.to("/hooks/no-secret") == []
    [letter] = await stored(js, "DEADLETTER", "dlq.notify-deliveries")
    assert "no webhook secret" in (letter.headers or {})["Chuishao-Dead-Error"]
