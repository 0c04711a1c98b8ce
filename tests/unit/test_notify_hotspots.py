"""Hotspot warnings (#19): who hears one (the command centre of the warning's street, else
the district centre), on which channels (the policy), and in which words."""

from datetime import UTC, datetime
from typing import Generic, TypeVar
from zoneinfo import ZoneInfo

from chuishao.common.categories import Category
from chuishao.common.domain import Level
from chuishao.common.events import HotspotDetected
from chuishao.common.place_names import PlaceName
from chuishao.common.unit_contacts import UnitContact
from chuishao.notify.hotspots import (
    HotspotWarnings,
    Words,
    centres,
    street_of_warning,
    window_label,
)
from chuishao.notify.messages import Messages
from chuishao.notify.settings import HotspotChannel, NotifySettings
from support.factories import submitted

NOW = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)

QINGSHI = UnitContact(
    id="qingshi-command",
    name="青石街道社会治理指挥中心",
    kind="command_centre",
    level=Level.STREET,
    streets=("qingshi",),
    duty_phone="010-6502-0001",
)
LIUAN = UnitContact(
    id="liuan-command",
    name="柳岸街道社会治理指挥中心",
    kind="command_centre",
    level=Level.STREET,
    streets=("liuan",),
)
DISTRICT = UnitContact(
    id="district-yunxi",
    name="云溪区接诉即办指挥中心",
    kind="district",
    level=Level.DISTRICT,
    streets=("qingshi", "liuan", "yunmen"),
)
CITY = UnitContact(
    id="city-12345",
    name="京海市12345市民服务热线督办中心",
    kind="command_centre",
    level=Level.CITY,
    streets=("qingshi", "liuan", "yunmen"),
)
# A street's own department: it serves the street but is no command centre.
ZHIFA = UnitContact(
    id="zhifa-qingshi",
    name="青石街道综合执法队",
    kind="department",
    level=Level.STREET,
    streets=("qingshi",),
)
UNITS = [QINGSHI, LIUAN, DISTRICT, CITY, ZHIFA]


M = TypeVar("M")


class View(Generic[M]):
    def __init__(self, items: dict[str, M]) -> None:
        self.items = items

    def get(self, key: str) -> M | None:
        return self.items.get(key)

    def all(self) -> list[M]:
        return list(self.items.values())


PLACES = View(
    {
        "qingshi": PlaceName(code="qingshi", name="青石街道", kind="street", parent="yunxi"),
        "qs-c1": PlaceName(code="qs-c1", name="青石社区", kind="community", parent="qingshi"),
        "QS-01": PlaceName(code="QS-01", name="青石社区第一网格", kind="grid", parent="qs-c1"),
    }
)
CATALOGUE = View({"street_vending": Category(code="street_vending", name="占道经营")})


def warning(street: str | None = "qingshi", grid: str = "QS-01") -> HotspotDetected:
    return HotspotDetected.caused_by(
        submitted(),
        producer="supervision",
        occurred_at=NOW,
        discriminator=f"{grid}|street_vending",
        grid_code=grid,
        street=street,
        category="street_vending",
        count=6,
        window_seconds=24 * 3600,
        threshold=5,
    )


def policy(*channels: HotspotChannel) -> HotspotWarnings:
    return HotspotWarnings(View({u.id: u for u in UNITS}), PLACES, channels)


def test_the_streets_own_command_centre_hears_it_and_no_other_street() -> None:
    assert centres("qingshi", UNITS) == ["qingshi-command"]
    assert centres("liuan", UNITS) == ["liuan-command"]


def test_a_street_without_a_centre_goes_to_the_district_centre() -> None:
    assert centres("yunmen", UNITS) == ["district-yunxi"]
    assert centres(None, UNITS) == ["district-yunxi"]
    assert centres("qingshi", [ZHIFA, CITY]) == []  # neither is a street or district centre


def test_a_warning_without_a_street_is_placed_by_its_grid() -> None:
    assert street_of_warning(warning(street=None), PLACES) == "qingshi"
    assert street_of_warning(warning(street=None, grid="XX-99"), PLACES) is None


def test_by_default_the_centre_gets_its_subject_webhook_and_an_sms() -> None:
    hotspots = policy(*NotifySettings.model_fields["hotspot_channels"].default)
    found = {(n.audience, n.recipient, n.template) for n in hotspots.notices(warning())}
    assert found == {
        ("unit", "qingshi-command", "hotspot"),
        ("duty_phone", "qingshi-command", "hotspot"),
    }
    [unit_notice] = [n for n in hotspots.notices(warning()) if n.audience == "unit"]
    assert hotspots.by_webhook(unit_notice)


def test_the_policy_can_leave_out_the_sms_and_the_webhook() -> None:
    hotspots = policy()
    [notice] = hotspots.notices(warning())
    assert (notice.audience, notice.recipient) == ("unit", "qingshi-command")
    assert not hotspots.by_webhook(notice)  # the unit's subject only


def test_the_message_names_the_street_grid_category_and_count() -> None:
    messages = Messages(
        ZoneInfo("Asia/Shanghai"), "https://x.example/r", "secret", Words(PLACES, CATALOGUE)
    )
    event = warning()
    text = messages.render("hotspot", event, QINGSHI.name)
    assert text.startswith("【热点预警】青石街道社会治理指挥中心：青石街道青石社区第一网格")
    assert "近24小时收到“占道经营”类反映6件（预警线5件）" in text
    assert event.ticket_id in text
    assert "?t=" not in text  # no resident's link in a warning


def test_window_words() -> None:
    assert [window_label(s) for s in (1800, 7200, 86_400, 7 * 86_400, 5400)] == [
        "近30分钟",
        "近2小时",
        "近24小时",
        "近7天",
        "近90分钟",
    ]
