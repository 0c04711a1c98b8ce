"""Notify's resident channels with the real intake app answering the contact query: the
receipt, the "handled" notice with its link, quiet hours, rate limit, opt-out, nothing sent
twice, and the SMS and WeChat gateways' HTTP calls against a real local receiver."""

import asyncio
import contextlib
import json
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from random import Random

import pytest
from fastapi import FastAPI
from nats.js import JetStreamContext
from redis.asyncio import Redis

from chuishao.common.clock import ManualClock
from chuishao.common.commands import SubmitReport
from chuishao.common.events import (
    DeliveryFailed,
    ReportLinked,
    ResidentNotified,
    TicketResolved,
    TicketSubmitted,
    parse_event,
)
from chuishao.common.handled import forget_handled
from chuishao.common.ids import reporter_ref
from chuishao.common.settings import ServiceSettings
from chuishao.embedded import free_port
from chuishao.notify.bootstrap import bootstrap
from chuishao.notify.channels import ResidentMessage
from chuishao.notify.channels.recorder import RecordedMessage, read_recorded
from chuishao.notify.channels.wechat import WechatTemplateChannel
from chuishao.notify.contacts import ResidentContact
from chuishao.notify.service import NotifyService
from integration.test_notify_webhooks import (
    Receiver,
    publish,
    settings_for,
    stored,
    until,
    until_async,
)
from support.intake import fire_box_intake
from support.servers import Servers

pytestmark = pytest.mark.usefixtures("clean")

PHONE, NAME = "13700001111", "王先生"
DAYTIME = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)  # 10:00 in Beijing
LATE_EVENING = datetime(2026, 1, 5, 15, 30, tzinfo=UTC)  # 23:30 in Beijing
NEXT_MORNING = datetime(2026, 1, 5, 23, 0, tzinfo=UTC)  # 07:00 in Beijing


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


@pytest.fixture
async def intake(servers: Servers, js: JetStreamContext) -> AsyncIterator[FastAPI]:
    async with fire_box_intake(servers.nats_url, servers.redis_url, js) as app:
        yield app


@contextlib.asynccontextmanager
async def notify_running(
    servers: Servers, clock: ManualClock, **overrides: object
) -> AsyncIterator[NotifyService]:
    # DEBUG: every line notify can write is there to be searched for a phone number.
    settings = settings_for(servers, **{"log_level": "DEBUG"} | overrides)
    service = bootstrap(settings, clock=clock, rng=Random(3))
    async with service.runtime.running():
        yield service


async def report(
    intake: FastAPI, js: JetStreamContext, priority: str = "normal"
) -> TicketSubmitted:
    command = SubmitReport.model_validate(
        {
            "category": "fire_box",
            "description": "A-160车位旁边的消防箱玻璃碎了",
            "location": {"grid_code": "HY-01", "address": "和园小区 A-160 车位"},
            "channel": "snap_it",
            "priority": priority,
            "reporter": {"name": NAME, "phone": PHONE},
        }
    )
    ticket_id = (await intake.state.intake.submit(command)).ticket_id
    [raw] = await stored(js, "TICKETS", f"ticket.submitted.{ticket_id}")
    event = parse_event(raw.data or b"")
    assert isinstance(event, TicketSubmitted)
    return event


def resolved(cause: TicketSubmitted, n: int = 1) -> TicketResolved:
    return TicketResolved.caused_by(
        cause,
        producer="intake",
        occurred_at=DAYTIME,
        discriminator=str(n),
        units=("grid-heyuan",),
        note="已更换消防箱玻璃",
        evidence_urls=(
            "https://img.example.org/after-1.jpg",
            "https://img.example.org/after-2.jpg",
        ),
        reporter_ref=cause.reporter_ref,
    )


async def outbox(redis: Redis, ticket_id: str, n: int) -> list[RecordedMessage]:
    await until_async(lambda: _outbox_has(redis, ticket_id, n))
    await asyncio.sleep(0.2)  # and no more than that
    entries = await read_recorded(redis, ticket_id)
    assert len(entries) == n
    return entries


def by_template(entries: list[RecordedMessage]) -> dict[str, RecordedMessage]:
    """Jobs run concurrently, so the order of the outbox is not the order of the events."""
    return {entry.template: entry for entry in entries}


async def _outbox_has(redis: Redis, ticket_id: str, n: int) -> bool:
    return len(await read_recorded(redis, ticket_id)) >= n


async def until_logged(notify: NotifyService, ticket_id: str, status: str, n: int = 1) -> None:
    async def logged() -> bool:
        entries = (await notify.history.read(ticket_id)).entries
        return sum(e.status == status for e in entries) >= n

    await until_async(logged)


async def test_a_report_gets_a_receipt_with_its_ticket_number(
    servers: Servers,
    js: JetStreamContext,
    redis: Redis,
    intake: FastAPI,
    capfd: pytest.CaptureFixture[str],
) -> None:
    async with notify_running(servers, ManualClock(DAYTIME)):
        ticket = await report(intake, js)
        [entry] = await outbox(redis, ticket.ticket_id, 1)
        await until_async(lambda: _count_resident_notified(js, 1))

    assert entry.template == "receipt"
    assert entry.text.startswith("【受理回执】您反映的问题已受理，工单编号：" + ticket.ticket_id)
    assert entry.to == "137****1111"
    [raw] = await stored(js, "TICKETS", "ticket.resident_notified.*")
    notified = parse_event(raw.data or b"")
    assert isinstance(notified, ResidentNotified)
    secret = ServiceSettings().reporter_ref_secret.get_secret_value()
    assert notified.reporter_ref == reporter_ref(secret, PHONE) == ticket.reporter_ref
    assert (notified.channel, notified.template) == ("outbox", "receipt")
    logs = capfd.readouterr().out
    assert '"service": "notify"' in logs
    assert PHONE not in logs
    assert NAME not in logs
    assert PHONE not in raw.data.decode()  # type: ignore[union-attr]


async def _count_resident_notified(js: JetStreamContext, n: int) -> bool:
    return len(await stored(js, "TICKETS", "ticket.resident_notified.*")) == n


async def test_a_resolved_ticket_tells_the_resident_with_the_photo_link_and_asks_for_a_rating(
    servers: Servers, js: JetStreamContext, redis: Redis, intake: FastAPI
) -> None:
    async with notify_running(servers, ManualClock(DAYTIME)):
        ticket = await report(intake, js)
        await publish(js, resolved(ticket))
        entry = by_template(await outbox(redis, ticket.ticket_id, 2))["resolved"]

    assert entry.template == "resolved"
    assert entry.text.startswith("您反映的问题已经处理（工单编号：" + ticket.ticket_id)
    assert "处理照片（2张）" in entry.text
    assert f"/r/{ticket.ticket_id}?t=" in entry.text  # the console's resident page
    assert "评价" in entry.text


async def test_a_report_linked_to_an_open_ticket_tells_its_reporter(
    servers: Servers, js: JetStreamContext, redis: Redis, intake: FastAPI
) -> None:
    async with notify_running(servers, ManualClock(DAYTIME)):
        ticket = await report(intake, js)
        linked = ReportLinked.caused_by(
            ticket,
            producer="intake",
            occurred_at=DAYTIME,
            duplicate_ticket_id=ticket.ticket_id,  # the new report
            distance_m=12.5,
        ).model_copy(update={"ticket_id": "T20260105000007"})  # the earlier, open ticket
        await publish(js, linked)
        [entry] = await outbox(redis, "T20260105000007", 1)
    assert entry.template == "linked"
    assert (
        f"您反映的问题（工单编号：{ticket.ticket_id}）与正在办理的工单T20260105000007为同一问题"
        in entry.text
    )


async def test_quiet_hours_hold_a_message_until_morning(
    servers: Servers, js: JetStreamContext, redis: Redis, intake: FastAPI
) -> None:
    clock = ManualClock(LATE_EVENING)
    async with notify_running(servers, clock) as notify:
        ticket = await report(intake, js)
        await until_logged(notify, ticket.ticket_id, "held")
        [job_id] = [
            e.delivery_id
            for e in (await notify.history.read(ticket.ticket_id)).entries
            if e.status == "held"
        ]
        assert await notify.held.release_at(job_id or "") == NEXT_MORNING.timestamp()
        await asyncio.sleep(0.3)  # several sweeps pass: still night, nothing goes out
        assert await read_recorded(redis, ticket.ticket_id) == []

        clock.set(NEXT_MORNING + timedelta(seconds=1))
        [entry] = await outbox(redis, ticket.ticket_id, 1)
        assert entry.template == "receipt"
        await until_logged(notify, ticket.ticket_id, "sent")
        assert await notify.held.release_at(job_id or "") is None
        statuses = [e.status for e in (await notify.history.read(ticket.ticket_id)).entries]
        assert statuses == ["held", "sent"]


async def test_an_emergency_is_not_held_by_quiet_hours(
    servers: Servers, js: JetStreamContext, redis: Redis, intake: FastAPI
) -> None:
    async with notify_running(servers, ManualClock(LATE_EVENING)):
        ticket = await report(intake, js, priority="emergency")
        [entry] = await outbox(redis, ticket.ticket_id, 1)
    assert entry.template == "receipt"


async def test_an_opted_out_resident_gets_nothing(
    servers: Servers, js: JetStreamContext, redis: Redis, intake: FastAPI
) -> None:
    await intake.state.intake.store.set_opted_out(PHONE, True)
    async with notify_running(servers, ManualClock(DAYTIME)) as notify:
        ticket = await report(intake, js)
        await until_logged(notify, ticket.ticket_id, "skipped")
        await asyncio.sleep(0.2)
        [entry] = (await notify.history.read(ticket.ticket_id)).entries
    assert entry.detail == "the resident opted out"
    assert await read_recorded(redis) == []


async def test_the_rate_limit_holds_the_extra_message_until_the_next_hour(
    servers: Servers, js: JetStreamContext, redis: Redis, intake: FastAPI
) -> None:
    clock = ManualClock(DAYTIME + timedelta(minutes=20))
    async with notify_running(servers, clock, resident_max_per_hour=2) as notify:
        ticket = await report(intake, js)
        await publish(js, resolved(ticket, 1))
        await publish(js, resolved(ticket, 2))
        await until_logged(notify, ticket.ticket_id, "held")
        assert len(await outbox(redis, ticket.ticket_id, 2)) == 2
        [held] = [
            e for e in (await notify.history.read(ticket.ticket_id)).entries if e.status == "held"
        ]
        assert held.detail.startswith("rate limit, held until 2026-01-05T03:00:00")

        clock.set(DAYTIME + timedelta(hours=1))
        assert len(await outbox(redis, ticket.ticket_id, 3)) == 3


async def test_a_redelivered_report_gets_one_receipt(
    servers: Servers, js: JetStreamContext, redis: Redis, intake: FastAPI
) -> None:
    async with notify_running(servers, ManualClock(DAYTIME)) as notify:
        ticket = await report(intake, js)
        await outbox(redis, ticket.ticket_id, 1)
        await forget_handled(redis, "notify", ticket)
        await js.publish(
            f"ticket.submitted.{ticket.ticket_id}",
            ticket.model_dump_json().encode(),
            headers={"Nats-Msg-Id": "past-the-window"},
        )
        [job] = await notify.fanout.handle(ticket)  # a replay of the job after the window
        await js.publish(job.subject, job.model_dump_json().encode(), headers={"Nats-Msg-Id": "r"})
        await until_logged(notify, ticket.ticket_id, "duplicate")
        assert len(await outbox(redis, ticket.ticket_id, 1)) == 1


async def test_the_sms_gateway_gets_its_call_shape_and_a_503_is_retried(
    servers: Servers, js: JetStreamContext, intake: FastAPI, receiver: Receiver
) -> None:
    receiver.answer("/sms", 503)
    async with notify_running(
        servers,
        ManualClock(DAYTIME),
        # WeChat first, but intake has no openid for this resident: SMS is used.
        resident_channels=("wechat", "sms"),
        wechat_api_url=receiver.url("/wechat"),
        sms_gateway_url=receiver.url("/sms"),
        sms_api_key="sms-key-test",
        sms_template_codes={"receipt": "SMS_270001"},
    ):
        ticket = await report(intake, js)
        await until(lambda: len(receiver.to("/sms")) == 2)
        await until_async(lambda: _count_resident_notified(js, 1))

    assert receiver.to("/wechat") == []
    first, second = receiver.to("/sms")
    payload = json.loads(second.body)
    assert payload == json.loads(first.body)  # the retry is the same call
    assert second.headers["Authorization"] == "Bearer sms-key-test"
    assert payload["phone_numbers"] == PHONE
    assert payload["sign_name"] == "吹哨"
    assert payload["template_code"] == "SMS_270001"
    assert payload["template_param"]["ticket_id"] == ticket.ticket_id
    assert payload["content"].startswith("【受理回执】")
    [raw] = await stored(js, "TICKETS", "ticket.resident_notified.*")
    notified = parse_event(raw.data or b"")
    assert isinstance(notified, ResidentNotified)
    assert notified.channel == "sms"
    assert payload["out_id"]


async def test_the_wechat_template_message_call_shape(receiver: Receiver) -> None:
    import httpx
    from pydantic import SecretStr

    async with httpx.AsyncClient() as client:
        channel = WechatTemplateChannel(
            client, receiver.url("/wechat"), SecretStr("tok"), {"resolved": "TPL-RESOLVED"}
        )
        contact = ResidentContact(
            ticket_id="T1", phone=PHONE, name=None, wechat_openid="o6_bmjrPTlm6_2sgVt7hMZOPfL2M"
        )
        message = ResidentMessage(
            "d-1", "T1", "resolved", "您反映的问题已经处理", {"link": "https://x/t"}
        )
        outcome = await channel.send(contact, message)
    assert outcome.kind == "delivered"
    [call] = receiver.to("/wechat")
    assert call.path == "/wechat?access_token=tok"
    payload = json.loads(call.body)
    assert payload["touser"] == "o6_bmjrPTlm6_2sgVt7hMZOPfL2M"
    assert payload["template_id"] == "TPL-RESOLVED"
    assert payload["url"] == "https://x/t"
    assert payload["data"]["content"]["value"] == "您反映的问题已经处理"


class EchoingGateway:
    """An SMS gateway that refuses the number and quotes it back, as real ones do."""

    def __init__(self) -> None:
        self.calls = 0
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                gateway.calls += 1
                reply = json.dumps(
                    {
                        "code": "isv.MOBILE_NUMBER_ILLEGAL",
                        "message": f"非法手机号 invalid mobile {body['phone_numbers']}",
                    },
                    ensure_ascii=False,
                ).encode()
                self.send_response(400)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/sms"

    def __enter__(self) -> "EchoingGateway":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


async def test_a_gateway_echoing_the_number_leaves_it_masked_in_events_and_dead_letters(
    servers: Servers, js: JetStreamContext, intake: FastAPI
) -> None:
    with EchoingGateway() as gateway:
        async with notify_running(
            servers,
            ManualClock(DAYTIME),
            resident_channels=("sms",),
            sms_gateway_url=gateway.url,
            sms_template_codes={"receipt": "SMS_270001"},
        ) as notify:
            ticket = await report(intake, js)
            await until_async(
                lambda: _stored_some(js, "TICKETS", "ticket.delivery_failed.*"), timeout=15
            )
            await until_logged(notify, ticket.ticket_id, "failed")
            history = (await notify.history.read(ticket.ticket_id)).model_dump_json()
    assert gateway.calls >= 1
    [raw] = await stored(js, "TICKETS", "ticket.delivery_failed.*")
    failed = parse_event(raw.data or b"")
    assert isinstance(failed, DeliveryFailed)
    assert PHONE not in failed.reason
    assert "137****1111" in failed.reason
    letters = await stored(js, "DEADLETTER", "dlq.>")
    assert letters
    for letter in letters:
        assert PHONE not in repr(dict(letter.headers or {}))
        assert PHONE.encode() not in (letter.data or b"")
    assert PHONE not in history


async def _stored_some(js: JetStreamContext, stream: str, subject: str) -> bool:
    return bool(await stored(js, stream, subject))
