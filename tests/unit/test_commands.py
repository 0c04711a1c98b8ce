import pytest
from pydantic import ValidationError

from chuishao.common.commands import SubmitReport
from chuishao.common.domain import Level, Location

VALID = {
    "category": "fire_box",
    "description": "A-160车位旁消防箱玻璃碎了",
    "location": {"lat": 39.9, "long": 116.4},
    "channel": "snap_it",
}


def error_fields(payload: dict[str, object]) -> set[str]:
    with pytest.raises(ValidationError) as caught:
        SubmitReport.model_validate(payload)
    return {".".join(str(part) for part in error["loc"]) for error in caught.value.errors()}


def test_a_valid_report_parses_with_defaults() -> None:
    report = SubmitReport.model_validate(VALID)
    assert report.priority == "normal"
    assert report.reporter is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"description": "x" * 4001}, "description"),
        ({"description": ""}, "description"),
        ({"location": {"lat": 91, "long": 116.4}}, "location.lat"),
        ({"location": {"lat": 39.9, "long": -181}}, "location.long"),
        ({"channel": "fax"}, "channel"),
        ({"category": "Fire Box!"}, "category"),
        ({"media_urls": ["not a url"]}, "media_urls.0"),
        ({"reporter": {"phone": "12345"}}, "reporter.phone"),
        ({"priority": "whenever"}, "priority"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_each_bad_field_is_named(change: dict[str, object], field: str) -> None:
    assert field in error_fields(VALID | change)


def test_a_location_needs_a_way_to_find_it() -> None:
    with pytest.raises(ValidationError, match="give lat and long"):
        Location()
    with pytest.raises(ValidationError, match="together"):
        Location(lat=39.9)


def test_phone_numbers_accept_mobiles_and_landlines() -> None:
    for phone in ("13800138000", "010-12345678", "02112345678"):
        report = SubmitReport.model_validate(VALID | {"reporter": {"phone": phone}})
        assert report.reporter is not None
        assert report.reporter.phone == phone


def test_the_ladder_goes_up_one_level_at_a_time() -> None:
    assert Level.COMMUNITY.next() == Level.STREET
    assert Level.STREET.next() == Level.DISTRICT
    assert Level.DISTRICT.next() == Level.CITY
    assert Level.CITY.next() is None
