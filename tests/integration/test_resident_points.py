"""A resident's own points behind a one-time SMS code (/r/points), on real servers: the
console makes the code, notify sends it (its outbox channel, the recorder that stands in
for phones; and the SMS gateway's call against a real local receiver), intake answers the
number's ledger key, the points service the balance. A wrong code, an expired one, too
many tries, too many sends; and the session shows that number's points, never another's.
"""

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from redis.asyncio import Redis

from chuishao.common.clock import ManualClock
from chuishao.console.phone_codes import CodeRule, PhoneCodes
from chuishao.notify.bootstrap import bootstrap as notify_bootstrap
from chuishao.notify.channels.recorder import RecordedMessage, read_recorded
from chuishao.notify.channels.sms import SmsGatewayChannel
from chuishao.notify.verification import VerificationCodes
from integration.test_notify_webhooks import Receiver, settings_for
from integration.test_points_service import running_points, until
from support.console import ConsoleHarness, running_console
from support.intake import PERSON_SECRET, Harness
from support.servers import Servers

MINE, NEIGHBOUR = "13900005555", "13900006666"
GRID = "grid-heyuan"


@dataclass
class Stack:
    intake: Harness
    console: ConsoleHarness
    redis: Redis


@pytest.fixture
async def stack(intake: Harness, servers: Servers, redis: Redis) -> AsyncIterator[Stack]:
    settings = settings_for(servers, log_level="WARNING")
    notify = notify_bootstrap(settings, clock=ManualClock())
    async with (
        running_points(servers),
        notify.runtime.running(),
        running_console(servers.nats_url, servers.redis_url, intake_app=intake.app) as console,
    ):
        yield Stack(intake, console, redis)


async def form_page(console: ConsoleHarness) -> str:
    page = await console.http.get("/r/points", headers={"Accept": "text/html"})
    assert page.status_code == 200
    return page.text


async def post(console: ConsoleHarness, path: str, **fields: str) -> httpx.Response:
    if console.http.cookies.get("chuishao_csrf") is None:
        await form_page(console)  # the pre-login CSRF cookie the forms repeat
    return await console.http.post(
        path, data={**fields, "csrf_token": console.csrf()}, headers={"Accept": "text/html"}
    )


async def sent_code(redis: Redis, n: int = 1) -> str:
    """The code of the n-th verification SMS in notify's outbox."""

    async def arrived() -> bool:
        return len(await _codes(redis)) >= n

    await until(arrived, timeout=10)
    entry = (await _codes(redis))[n - 1]
    found = re.search(r"\d{6}", entry.text)
    assert found, entry.text
    return found.group(0)


async def _codes(redis: Redis) -> list[RecordedMessage]:
    return [m for m in await read_recorded(redis) if m.template == "verification_code"]


async def test_a_resident_sees_their_own_points_and_never_another_numbers(stack: Stack) -> None:
    intake, console = stack.intake, stack.console
    mine = await intake.submit(reporter={"phone": MINE})
    theirs = await intake.submit(
        category="bus_obstruction",
        description="公交车停在路口堵住了",
        location={"address": "兰亭路口", "grid_code": "HY-01"},
        reporter={"phone": NEIGHBOUR},
    )
    await intake.dispatch(mine, GRID)
    await intake.dispatch(theirs, GRID)

    assert 'id="phone-form"' in await form_page(console)
    asked = await post(console, "/r/points/code", phone=MINE)
    assert asked.status_code == 200, asked.text
    assert 'id="verify"' in asked.text
    assert "139****5555" in asked.text
    code = await sent_code(stack.redis)
    sms = (await _codes(stack.redis))[0]
    assert sms.to == "139****5555"  # the outbox keeps the number masked
    assert "5 分钟内有效" in sms.text

    wrong = "000000" if code != "000000" else "111111"
    refused = await post(console, "/r/points/verify", phone=MINE, code=wrong)
    assert refused.status_code == 422
    assert "验证码不正确，还可以再试 4 次" in refused.text
    # The code is this number's: with the neighbour's number it opens nothing.
    other = await post(console, "/r/points/verify", phone=NEIGHBOUR, code=code)
    assert other.status_code == 422
    assert console.http.cookies.get("chuishao_points") is None

    confirmed = await post(console, "/r/points/verify", phone=MINE, code=code)
    assert confirmed.status_code == 303, confirmed.text

    async def earned() -> bool:
        page = await console.http.get("/r/points", headers={"Accept": "text/html"})
        return 'id="balance">5<' in page.text and mine in page.text

    await until(earned)
    page = await form_page(console)
    assert theirs not in page  # the neighbour's report and points are not here
    assert MINE not in page
    assert NEIGHBOUR not in page
    assert "phone" not in page  # no field that could ask for another number's points

    again = await post(console, "/r/points/verify", phone=MINE, code=code)
    assert "验证码已过期或已使用" in again.text  # used once

    # Nothing in Redis holds the number or the code in the clear.
    for key in await stack.redis.keys("console:phone-code:*"):
        assert MINE.encode() not in key
        if await stack.redis.type(key) == b"hash":
            stored = await stack.redis.hgetall(key)
            assert all(code not in str(value) for value in stored.values())
    sessions = await stack.redis.keys("console:phone-code:session:*")
    assert len(sessions) == 1
    assert 0 < await stack.redis.ttl(sessions[0]) <= 600  # short-lived, never extended

    await post(console, "/r/points/logout")
    assert 'id="phone-form"' in await form_page(console)


async def test_five_wrong_tries_end_a_code_an_old_one_expires_and_sends_are_throttled(
    stack: Stack,
) -> None:
    console = stack.console
    await post(console, "/r/points/code", phone=MINE)
    code = await sent_code(stack.redis)
    wrong = "000000" if code != "000000" else "111111"
    answers = [
        (await post(console, "/r/points/verify", phone=MINE, code=wrong)).text for _ in range(5)
    ]
    assert "还可以再试 1 次" in answers[3]
    assert "错误次数过多" in answers[4]
    late = await post(console, "/r/points/verify", phone=MINE, code=code)
    assert late.status_code == 422  # the right code, too late: the code is gone
    assert console.http.cookies.get("chuishao_points") is None

    # A code lives its TTL (here one second, not five minutes), then nothing opens.
    codes = console.console.phone_codes
    console.console.phone_codes = PhoneCodes(
        stack.redis, "console", PERSON_SECRET, CodeRule(ttl_seconds=1)
    )
    try:
        await post(console, "/r/points/code", phone=MINE)
        fresh = await sent_code(stack.redis, 2)
        key = console.console.phone_codes._code_key(MINE)

        async def gone() -> bool:
            return not await stack.redis.exists(key)

        await until(gone, timeout=5)
        expired = await post(console, "/r/points/verify", phone=MINE, code=fresh)
        assert expired.status_code == 422
        assert "已过期" in expired.text

        # Sends: one per number; an address may send for two numbers.
        for stale in await stack.redis.keys("console:phone-code:*"):  # a fresh count
            await stack.redis.delete(stale)
        before = len(await _codes(stack.redis))
        console.console.phone_codes = PhoneCodes(
            stack.redis, "console", PERSON_SECRET, CodeRule(sends_per_phone=1, ip_factor=2)
        )
        assert (await post(console, "/r/points/code", phone=MINE)).status_code == 200
        again = await post(console, "/r/points/code", phone=MINE)
        assert again.status_code == 429
        assert "过于频繁" in again.text
        assert (await post(console, "/r/points/code", phone=NEIGHBOUR)).status_code == 200
        third = await post(console, "/r/points/code", phone="13900007777")
        assert third.status_code == 429  # the address's own limit
        assert len(await _codes(stack.redis)) == before + 2  # none for the refused ones
        bad = await post(console, "/r/points/code", phone="12345")
        assert bad.status_code == 422
    finally:
        console.console.phone_codes = codes


async def test_the_sms_gateway_gets_the_code_once_per_request() -> None:
    """Notify's SMS channel, against a real local HTTP receiver: the number, the text with
    the code, and the request id as the gateway's de-duplication id."""
    with Receiver() as receiver:
        async with httpx.AsyncClient() as client:
            channel = SmsGatewayChannel(
                client, receiver.url("/sms"), None, "吹哨", {"verification_code": "SMS_1"}
            )
            codes = VerificationCodes([channel])
            body = b'{"request_id": "req-12345678", "phone": "13900005555", "code": "246810"}'
            answer = await codes.send(body)
            assert answer == {"ok": True, "channel": "sms"}
            refused = await codes.send(
                b'{"request_id": "req-12345678", "phone": "139", "code": "1"}'
            )
            assert refused["ok"] is False
            assert refused["error"]["field"] in ("phone", "code")
    (call,) = receiver.to("/sms")
    sent = json.loads(call.body)
    assert sent["phone_numbers"] == "13900005555"
    assert "246810" in sent["content"]
    assert (sent["template_code"], sent["out_id"]) == ("SMS_1", "req-12345678")
    assert sent["template_param"]["code"] == "246810"
