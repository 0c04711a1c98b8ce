"""Hotspot warnings by SMS to the command-centre people (#19), on real servers: the console's
`console-hotspots` consumer asks notify, notify renders its fixed text and sends it through
its outbox (the recorder in place of phones). A qingshi warning reaches the qingshi
command_centre account's phone once, however often it is redelivered; a liuan account and an
account without a phone get nothing; with the policy off nobody does. Notify refuses a
request that is not a warning's codes and counts (no free text through it)."""

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from nats.js import JetStreamContext
from redis.asyncio import Redis

from chuishao.common import subjects
from chuishao.common.catalogue import Category, publish_catalogue
from chuishao.common.clock import ManualClock
from chuishao.common.events import HotspotDetected
from chuishao.common.places import PlaceName, publish_places
from chuishao.common.roles import PersonRole
from chuishao.common.streams import CONSOLE_HOTSPOTS
from chuishao.console.accounts import AccountError
from chuishao.console.settings import ConsoleSettings
from chuishao.notify.bootstrap import bootstrap as notify_bootstrap
from chuishao.notify.channels.recorder import RecordedMessage, read_recorded
from integration.test_notify_webhooks import publish, settings_for
from integration.test_points_service import until
from support.console import ConsoleHarness, running_console
from support.factories import submitted
from support.servers import Servers

pytestmark = pytest.mark.usefixtures("clean")

MORNING = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
QINGSHI_PHONE, LIUAN_PHONE = "13900000001", "13900000002"


@dataclass
class Stack:
    console: ConsoleHarness
    js: JetStreamContext
    redis: Redis


@pytest.fixture
async def stack(servers: Servers, js: JetStreamContext, redis: Redis) -> AsyncIterator[Stack]:
    await publish_places(
        js,
        [
            PlaceName(code="qingshi", name="青石街道", kind="street", parent="yunxi"),
            PlaceName(code="QS-01", name="青石社区第一网格", kind="grid", parent="qingshi"),
        ],
    )
    await publish_catalogue(js, [Category(code="street_vending", name="占道经营")])
    notify = notify_bootstrap(settings_for(servers, log_level="WARNING"), clock=ManualClock())
    async with (
        notify.runtime.running(),
        running_console(servers.nats_url, servers.redis_url, log_level="WARNING") as console,
    ):
        accounts = console.console.accounts
        await accounts.add("qs-li", PersonRole.COMMAND_CENTRE, "qingshi", phone=QINGSHI_PHONE)
        await accounts.add("qs-wang", PersonRole.COMMAND_CENTRE, "qingshi")  # no phone
        await accounts.add("la-zhao", PersonRole.COMMAND_CENTRE, "liuan", phone=LIUAN_PHONE)
        yield Stack(console, js, redis)


def hotspot(discriminator: str, street: str | None = "qingshi") -> HotspotDetected:
    return HotspotDetected.caused_by(
        submitted(),
        producer="supervision",
        occurred_at=MORNING,
        discriminator=discriminator,
        grid_code="QS-01",
        street=street,
        category="street_vending",
        count=6,
        window_seconds=24 * 3600,
        threshold=5,
    )


async def texts(redis: Redis) -> list[RecordedMessage]:
    return [m for m in await read_recorded(redis) if m.template == "hotspot_person"]


async def idle(js: JetStreamContext) -> bool:
    info = await js.consumer_info("TICKETS", CONSOLE_HOTSPOTS.name)
    return bool(info.num_pending == 0 and info.num_ack_pending == 0)


async def test_a_warning_reaches_its_streets_people_once_and_only_by_policy(stack: Stack) -> None:
    warning = hotspot("QS-01|street_vending")
    await publish(stack.js, warning)

    async def arrived() -> bool:
        return len(await texts(stack.redis)) >= 1

    await until(arrived, timeout=10)
    # Redelivered (past the duplicate window): the account already texted is skipped. And
    # a warning without a street is placed by its grid: the same person, once more.
    await publish(stack.js, warning, msg_id="redelivered-1")
    await publish(stack.js, warning, msg_id="redelivered-2")
    await publish(stack.js, hotspot("QS-01|street_vending|2", street=None))

    async def settled() -> bool:
        return len(await texts(stack.redis)) >= 2 and await idle(stack.js)

    await until(settled, timeout=10)
    # Each of the 4 read once: no send failed and was retried.
    info = await stack.js.consumer_info("TICKETS", CONSOLE_HOTSPOTS.name)
    assert info.delivered.consumer_seq == 4
    sent = await texts(stack.redis)
    # Only the qingshi person's phone (masked in the outbox); liuan's and no-phone's: none.
    assert [m.to for m in sent] == ["139****0001"] * 2
    assert sent[0].text == (
        "【吹哨·热点预警】青石街道青石社区第一网格近24小时收到“占道经营”类反映6件"
        "（预警线5件），请及时研判、统筹处置。"
    )

    # With the policy off (CHUISHAO_CONSOLE_HOTSPOT_SMS=false) nobody is texted.
    texts_of = stack.console.console.hotspot_texts
    texts_of.enabled = False
    await texts_of.on_warning(hotspot("QS-01|street_vending|off"))
    assert len(await texts(stack.redis)) == 2
    assert ConsoleSettings().console_hotspot_sms is True  # on unless turned off


async def test_no_callers_words_are_sent_and_a_phone_is_a_mainland_mobile(stack: Stack) -> None:
    nc = stack.console.console.broker.connection
    body = {
        "request_id": "abcdefgh1234",
        "phone": QINGSHI_PHONE,
        "grid_code": "点击领奖 http://x",
        "category": "street_vending",
        "count": 1,
        "threshold": 1,
        "window_seconds": 60,
    }
    refused = json.loads(
        (await nc.request(subjects.NOTIFY_HOTSPOT_SMS, json.dumps(body).encode(), timeout=5)).data
    )
    assert refused["ok"] is False
    extra = json.loads(
        (
            await nc.request(
                subjects.NOTIFY_HOTSPOT_SMS,
                json.dumps(body | {"grid_code": "QS-01", "text": "任意内容"}).encode(),
                timeout=5,
            )
        ).data
    )
    assert extra["ok"] is False
    assert await texts(stack.redis) == []
    accounts = stack.console.console.accounts
    for bad in ("1390000000", "12900000001", "１３９０００００００１", "139-0000-0001"):
        with pytest.raises(AccountError):
            await accounts.set_phone("qs-wang", bad)
    account = await accounts.set_phone("qs-wang", " 13900000003 ")
    assert account.phone == "13900000003"
    assert "13900000003" not in repr(account)
    assert (await accounts.set_phone("qs-wang", None)).phone is None
