"""The report-in reminder (#15): a unit that has not reported for duty by sla's warning
point gets, besides the webhook's 催办, an SMS to its duty desk's phone (the directory's
contact) — unless a clerk has the console's queue open. The resident's link never goes
to it."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from chuishao.common.domain import ClockKind, Level, Priority
from chuishao.common.events import SlaWarning
from chuishao.common.presence import FRESH_SECONDS, Presence
from chuishao.common.unit_contacts import UnitContact
from chuishao.notify.attempt import Attempt, Settled
from chuishao.notify.audience import Audience
from chuishao.notify.channels import ResidentMessage
from chuishao.notify.contacts import ResidentContact
from chuishao.notify.jobs import DeliveryJob
from chuishao.notify.messages import Messages
from chuishao.notify.outcomes import SendResult
from chuishao.notify.planning import notices_for
from chuishao.notify.settings import ResidentChannelName
from chuishao.notify.to_units import ToDutyPhones
from support.factories import dispatched, submitted

NOW = datetime(2026, 1, 5, 9, 40, tzinfo=UTC)
MESSAGES = Messages(ZoneInfo("Asia/Shanghai"), "https://12345.example.gov.cn/", "link-secret")


def warning(clock: ClockKind, unit_id: str | None = "grid-heyuan") -> SlaWarning:
    return SlaWarning.caused_by(
        dispatched(submitted()),
        producer="sla",
        occurred_at=NOW,
        discriminator=f"{clock}:{unit_id}",
        clock=clock,
        level=Level.COMMUNITY,
        unit_id=unit_id,
        deadline=NOW + timedelta(minutes=10),
        remaining_seconds=600,
    )


def test_a_unit_not_reported_at_the_warning_point_gets_an_sms_to_its_duty_phone() -> None:
    notices = notices_for(warning(ClockKind.REPORT_FOR_DUTY), Audience())
    kinds = {(n.audience, n.recipient, n.template) for n in notices}
    assert ("duty_phone", "grid-heyuan", "report_reminder") in kinds
    assert ("unit", "grid-heyuan", "urge") in kinds  # the webhook's 催办 as before


def test_other_clocks_warn_the_unit_only() -> None:
    for clock in (ClockKind.RESOLUTION, ClockKind.FIRST_RESPONSE):
        notices = notices_for(warning(clock), Audience())
        assert [n.audience for n in notices] == ["unit"]


class FakeSms:
    name: ResidentChannelName = "sms"

    def __init__(self) -> None:
        self.sent: list[tuple[ResidentContact, ResidentMessage]] = []

    def can_reach(self, contact: ResidentContact) -> bool:
        return contact.phone is not None

    async def send(self, contact: ResidentContact, message: ResidentMessage) -> SendResult:
        self.sent.append((contact, message))
        return SendResult.delivered("ok")


class FakeLedger:
    def __init__(self) -> None:
        self.settled: dict[str, str] = {}

    async def settle(self, job_id: str, how: str) -> None:
        self.settled[job_id] = how


class Units:
    def __init__(self, *units: UnitContact) -> None:
        self.units = {u.id: u for u in units}

    def get(self, key: str) -> UnitContact | None:
        return self.units.get(key)


class Seen:
    def __init__(self, *entries: Presence) -> None:
        self.entries = {p.unit: p for p in entries}

    def get(self, key: str) -> Presence | None:
        return self.entries.get(key)


# A grid station with a duty phone, the unit most tests here remind.
HEYUAN = UnitContact(
    id="grid-heyuan",
    name="和园社区网格站",
    kind="community",
    level=Level.COMMUNITY,
    duty_phone="010-6501-1001",
)


def duty_sender(
    unit: UnitContact, sms: FakeSms, ledger: FakeLedger, presence: Seen | None = None
) -> ToDutyPhones:
    """The duty-phone sender over fakes: the one unit, the one SMS channel, the ledger."""
    return ToDutyPhones(
        units=Units(unit),  # type: ignore[arg-type]
        channels=[sms],
        messages=MESSAGES,
        ledger=ledger,  # type: ignore[arg-type]
        presence=presence,  # type: ignore[arg-type]
    )


def job_for(unit_id: str) -> DeliveryJob:
    event = warning(ClockKind.REPORT_FOR_DUTY, unit_id)
    notice = next(n for n in notices_for(event, Audience()) if n.audience == "duty_phone")
    return DeliveryJob.for_notice(event, notice, "duty_sms", Priority.NORMAL)


async def test_the_reminder_goes_to_the_duty_phone_without_the_residents_link() -> None:
    sms, ledger = FakeSms(), FakeLedger()
    sender = duty_sender(HEYUAN, sms, ledger)
    job = job_for("grid-heyuan")
    result = await sender.send(Attempt(job, 1, NOW))
    assert isinstance(result, Settled)
    assert result.status == "sent"
    assert "6501-1001" not in result.detail  # logged masked
    [(contact, message)] = sms.sent
    assert contact.phone == "010-6501-1001"
    assert "签收" in message.text
    assert "和园社区网格站" in message.text
    assert job.event.ticket_id in message.text
    assert "link" not in message.params  # the resident's own link stays the resident's
    assert "token" not in message.text
    assert ledger.settled[job.job_id] == "duty_sms"


async def test_a_unit_without_a_duty_phone_is_skipped_not_retried() -> None:
    sms, ledger = FakeSms(), FakeLedger()
    unit = UnitContact(id="bus-yunxi", name="云溪公交集团", kind="co_building", level=Level.STREET)
    sender = duty_sender(unit, sms, ledger)
    result = await sender.send(Attempt(job_for("bus-yunxi"), 1, NOW))
    assert isinstance(result, Settled)
    assert result.status == "skipped"
    assert sms.sent == []


async def test_no_sms_while_a_clerk_has_the_console_queue_open() -> None:
    for seen_ago, sent in ((10, False), (FRESH_SECONDS + 5, True)):
        sms, ledger = FakeSms(), FakeLedger()
        seen = Seen(Presence(unit="grid-heyuan", seen_at=NOW - timedelta(seconds=seen_ago)))
        sender = duty_sender(HEYUAN, sms, ledger, presence=seen)
        result = await sender.send(Attempt(job_for("grid-heyuan"), 1, NOW))
        assert isinstance(result, Settled)
        assert (result.status == "sent") is sent, seen_ago
        assert bool(sms.sent) is sent
