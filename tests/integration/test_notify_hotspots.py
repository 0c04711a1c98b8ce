"""Hotspot warnings (#19) delivered by notify against real servers and a real HTTP receiver
(the centre's webhook and the SMS gateway): the street's command centre hears it on its
subject, its webhook and its duty phone, once however often it is redelivered; another
street's centre hears nothing; a warning that cannot be read goes to the dead letters."""

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from random import Random

import pytest
from nats.js import JetStreamContext
from redis.asyncio import Redis

from chuishao.common.catalogue import Category, publish_catalogue
from chuishao.common.clock import ManualClock
from chuishao.common.delivery import REASON_HEADER
from chuishao.common.domain import Level, Priority
from chuishao.common.events import HotspotDetected, UnitNotified, parse_event
from chuishao.common.handled import forget_handled
from chuishao.common.places import PlaceName, publish_places
from chuishao.common.streams import NOTIFY, NOTIFY_DELIVERIES, provision
from chuishao.common.units import UnitContact, publish_units
from chuishao.notify.bootstrap import bootstrap
from chuishao.notify.jobs import DeliveryJob
from chuishao.notify.service import NotifyService
from chuishao.notify.signing import verify
from integration.test_notify_webhooks import (
    Receiver,
    publish,
    settings_for,
    stored,
    until_async,
)
from support.factories import submitted
from support.servers import Servers

pytestmark = pytest.mark.usefixtures("clean")

MORNING = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)  # 10:00 in Beijing
SECRET = "whsec-command-test"
QINGSHI_PHONE, LIUAN_PHONE = "010-6502-0001", "010-6502-0002"


def centre(unit_id: str, name: str, street: str, phone: str, receiver: Receiver) -> UnitContact:
    return UnitContact(
        id=unit_id,
        name=name,
        kind="command_centre",
        level=Level.STREET,
        streets=(street,),
        coverage=(street,),
        webhook_url=receiver.url(f"/hooks/{unit_id}"),
        duty_phone=phone,
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


@pytest.fixture
async def notify(
    servers: Servers, js: JetStreamContext, receiver: Receiver
) -> AsyncIterator[NotifyService]:
    await provision(js)
    await publish_units(
        js,
        [
            centre(
                "qingshi-command", "青石街道社会治理指挥中心", "qingshi", QINGSHI_PHONE, receiver
            ),
            centre("liuan-command", "柳岸街道社会治理指挥中心", "liuan", LIUAN_PHONE, receiver),
            UnitContact(
                id="district-yunxi",
                name="云溪区接诉即办指挥中心",
                kind="district",
                level=Level.DISTRICT,
                streets=("qingshi", "liuan"),
                duty_phone="010-6501-0000",
            ),
        ],
    )
    await publish_places(
        js,
        [
            PlaceName(code="qingshi", name="青石街道", kind="street", parent="yunxi"),
            PlaceName(code="QS-01", name="青石社区第一网格", kind="grid", parent="qingshi"),
        ],
    )
    await publish_catalogue(js, [Category(code="street_vending", name="占道经营")])
    settings = settings_for(
        servers,
        webhook_secrets={"qingshi-command": SECRET, "liuan-command": SECRET},
        resident_channels=("sms",),
        sms_gateway_url=receiver.url("/sms"),
    )
    service = bootstrap(settings, clock=ManualClock(MORNING), rng=Random(5))
    async with service.runtime.running():
        yield service


def hotspot(count: int = 6) -> HotspotDetected:
    return HotspotDetected.caused_by(
        submitted(),
        producer="supervision",
        occurred_at=MORNING,
        discriminator="QS-01|street_vending",
        grid_code="QS-01",
        street="qingshi",
        category="street_vending",
        count=count,
        window_seconds=24 * 3600,
        threshold=5,
    )


async def idle(js: JetStreamContext) -> bool:
    """Both of notify's consumers have nothing left to read or to acknowledge."""
    for stream, name in (("TICKETS", NOTIFY.name), ("NOTIFY_JOBS", NOTIFY_DELIVERIES.name)):
        info = await js.consumer_info(stream, name)
        if info.num_pending or info.num_ack_pending:
            return False
    return True


async def statuses(notify: NotifyService, ticket_id: str) -> list[tuple[str, str]]:
    return [(e.channel, e.status) for e in (await notify.history.read(ticket_id)).entries]


async def test_a_hotspot_reaches_its_streets_centre_once_and_no_other_street(
    js: JetStreamContext, notify: NotifyService, receiver: Receiver, redis: Redis
) -> None:
    warning = hotspot()
    ticket_id = warning.ticket_id
    await publish(js, warning)

    async def delivered() -> bool:
        done = await statuses(notify, ticket_id)
        return ("webhook", "sent") in done and ("duty_sms", "sent") in done

    await until_async(delivered)

    # Redelivered past the duplicate window, as if notify had crashed before marking it
    # handled, and its jobs replayed as new messages: nothing goes out a second time.
    await publish(js, warning, msg_id="redelivered-1")
    await forget_handled(redis, "notify", warning)
    await publish(js, warning, msg_id="redelivered-2")
    replays = [
        DeliveryJob.for_notice(
            warning, notice, "webhook" if notice.audience == "unit" else "duty_sms", Priority.NORMAL
        )
        for notice in notify.fanout.hotspots.notices(warning)  # type: ignore[union-attr]
    ]
    assert len(replays) == 2
    for n, job in enumerate(replays):
        await js.publish(
            job.subject, job.model_dump_json().encode(), headers={"Nats-Msg-Id": f"r{n}"}
        )

    async def duplicates_seen() -> bool:
        return [s for _, s in await statuses(notify, ticket_id)].count("duplicate") == 2

    await until_async(duplicates_seen)
    await until_async(lambda: idle(js))

    # The centre's own subject: the event itself, once.
    [on_subject] = await stored(js, "UNITS", "dept.qingshi-command.>")
    assert on_subject.subject == f"dept.qingshi-command.hotspot.{ticket_id}"
    assert HotspotDetected.model_validate_json(on_subject.data or b"") == warning
    # Its webhook, signed, once, with the words.
    [call] = receiver.to("/hooks/qingshi-command")
    assert verify(SECRET, call.headers, call.body, now=MORNING)
    text = call.body.decode()
    assert "【热点预警】青石街道社会治理指挥中心：青石街道青石社区第一网格" in text
    assert "近24小时收到“占道经营”类反映6件（预警线5件）" in text
    # Its duty phone, by SMS, once.
    [sms] = receiver.to("/sms")
    assert f'"phone_numbers": "{QINGSHI_PHONE}"' in sms.body.decode()
    assert "占道经营" in sms.body.decode()
    # Another street's centre, and the district, hear nothing.
    assert await stored(js, "UNITS", "dept.liuan-command.>") == []
    assert await stored(js, "UNITS", "dept.district-yunxi.>") == []
    assert receiver.to("/hooks/liuan-command") == []
    notified = [
        parse_event(m.data or b"") for m in await stored(js, "TICKETS", "ticket.unit_notified.*")
    ]
    assert {(e.unit_id, e.channel) for e in notified if isinstance(e, UnitNotified)} == {
        ("qingshi-command", "nats"),
        ("qingshi-command", "webhook"),
    }
    assert len(notified) == 2


async def test_an_unreadable_hotspot_is_dead_lettered(
    js: JetStreamContext, notify: NotifyService, receiver: Receiver
) -> None:
    broken = hotspot().model_dump(mode="json") | {"count": 0}  # count must be at least 1
    await js.publish(f"ticket.hotspot.{broken['ticket_id']}", json.dumps(broken).encode())
    await until_async(lambda: _letters(js))
    [letter] = await stored(js, "DEADLETTER", "dlq.notify")
    assert (letter.headers or {})[REASON_HEADER] == "unprocessable"
    await until_async(lambda: idle(js))
    assert receiver.requests == []


async def _letters(js: JetStreamContext) -> bool:
    return len(await stored(js, "DEADLETTER", "dlq.notify")) == 1
