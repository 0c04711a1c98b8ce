"""Policies from the TOML file: the brief's defaults, file-order overrides, errors that
say where, and a file of one's own through the settings."""

from pathlib import Path

import pytest

from chuishao.common.domain import ClockKind, Level, Priority
from chuishao.sla.durations import Limit, parse_limit, parse_seconds
from chuishao.sla.policies import PolicyBook, PolicyError
from chuishao.sla.settings import SlaSettings

HOUR = 3600.0

BASE = """
version = 1
[defaults]
resolution = "48h"
"""


@pytest.fixture(scope="module")
def shipped() -> PolicyBook:
    return PolicyBook.load()


def seconds(
    book: PolicyBook, category: str, priority: str, level: str, clock: ClockKind
) -> float | None:
    return book.policy(category, Priority(priority), Level(level)).limit_seconds(clock)


def test_the_shipped_policies_carry_the_briefs_defaults(shipped: PolicyBook) -> None:
    assert (
        seconds(shipped, "emergency_hazard", "emergency", "district", ClockKind.REPORT_FOR_DUTY)
        == 0.5 * HOUR
    )
    assert (
        seconds(shipped, "emergency_hazard", "emergency", "district", ClockKind.FIRST_RESPONSE)
        == 2 * HOUR
    )
    assert seconds(shipped, "fire_box", "normal", "community", ClockKind.RESOLUTION) == 48 * HOUR
    assert seconds(shipped, "fire_box", "normal", "community", ClockKind.REPORT_FOR_DUTY) is None
    assert seconds(shipped, "water_leak", "normal", "community", ClockKind.RESOLUTION) == 24 * HOUR
    policy = shipped.policy("fire_box", Priority.NORMAL, Level.COMMUNITY)
    assert policy.warning_fraction == 0.75
    assert policy.ladder == (Level.COMMUNITY, Level.STREET, Level.DISTRICT, Level.CITY)
    assert policy.calendar.name == "24x7"


def test_complex_cases_count_working_days(shipped: PolicyBook) -> None:
    policy = shipped.policy("wage_arrears", Priority.NORMAL, Level.COMMUNITY)
    assert policy.calendar.name == "office_hours"
    assert policy.limit_seconds(ClockKind.RESOLUTION) == 15 * 7 * HOUR  # 15 working days


def test_later_rules_win_field_by_field_and_off_switches_a_clock_off() -> None:
    book = PolicyBook.parse(
        BASE
        + """
[[rules]]
priorities = ["emergency"]
report_for_duty = "30m"
resolution = "24h"

[[rules]]
categories = ["gas_leak"]
levels = ["city"]
report_for_duty = "off"
warning_fraction = 0.5
"""
    )
    street = book.policy("gas_leak", Priority.EMERGENCY, Level.STREET)
    city = book.policy("gas_leak", Priority.EMERGENCY, Level.CITY)
    assert street.limits[ClockKind.REPORT_FOR_DUTY] == Limit(seconds=1800)
    assert city.limits[ClockKind.REPORT_FOR_DUTY] is None
    assert city.limits[ClockKind.RESOLUTION] == Limit(seconds=24 * HOUR)  # kept from rule 1
    assert (street.warning_fraction, city.warning_fraction) == (0.75, 0.5)


def test_a_shorter_ladder_ends_escalation_early() -> None:
    book = PolicyBook.parse(BASE + 'ladder = ["community", "street"]\n')
    policy = book.policy("x", Priority.NORMAL, Level.COMMUNITY)
    assert policy.next_level(Level.COMMUNITY) == Level.STREET
    assert policy.next_level(Level.STREET) is None


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("version = 1\n[defaults]\nresolution = 'off'\n", "defaults must set a resolution"),
        (BASE + "calendar = 'nine_to_five'\n", "unknown calendar 'nine_to_five'"),
        (BASE + "[[rules]]\nresolution = 'off'\n", "rules[0]: the resolution clock cannot"),
        (BASE + "[[rules]]\nresolution = 'soon'\n", "not a duration: 'soon'"),
        (BASE + "ladder = ['street', 'community']\n", "lowest first"),
        (BASE + "[[rules]]\npriorities = ['whenever']\n", "priorities"),
        ("version = 1\n[defaults\n", "not valid TOML"),
    ],
)
def test_a_wrong_policy_file_is_refused_with_the_reason(text: str, says: str) -> None:
    with pytest.raises(PolicyError, match=r"my\.toml") as refused:
        PolicyBook.parse(text, "my.toml")
    assert says in str(refused.value)


def test_the_settings_point_to_a_policy_file_of_ones_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    own = tmp_path / "policies.toml"
    own.write_text("version = 2\n[defaults]\nresolution = '72h'\n", encoding="utf-8")
    monkeypatch.setenv("CHUISHAO_SLA_POLICIES_FILE", str(own))
    book = PolicyBook.load(SlaSettings().sla_policies_file)
    assert book.source == str(own)
    assert seconds(book, "fire_box", "normal", "community", ClockKind.RESOLUTION) == 72 * HOUR


@pytest.mark.parametrize(
    ("text", "limit"),
    [
        ("30m", Limit(seconds=1800)),
        ("48h", Limit(seconds=172_800)),
        ("7d", Limit(days=7)),
        ("1d12h", Limit(days=1, seconds=43_200)),
        ("1.5h", Limit(seconds=5400)),
    ],
)
def test_durations_read_as_written(text: str, limit: Limit) -> None:
    assert parse_limit(text) == limit


def test_signed_durations_for_time_travel() -> None:
    assert parse_seconds("+48h") == 172_800
    assert parse_seconds("-30m") == -1800
    with pytest.raises(ValueError, match="not a duration"):
        parse_seconds("48 hours")
