"""Business calendars: working hours, China's holidays and make-up workdays."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from chuishao.sla.calendars import ALWAYS_OPEN, WorkingHours

BEIJING = ZoneInfo("Asia/Shanghai")
HOUR = 3600.0
OFFICE = WorkingHours("office_hours", [(time(9), time(12)), (time(13, 30), time(17, 30))])


def beijing(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BEIJING)


def test_24x7_counts_every_second() -> None:
    start = datetime(2026, 10, 1, tzinfo=UTC)
    assert ALWAYS_OPEN.add(start, 48 * HOUR) == start + timedelta(hours=48)
    assert ALWAYS_OPEN.between(start, start + timedelta(hours=5)) == 5 * HOUR


def test_working_hours_skip_lunch_and_nights() -> None:
    # Tuesday 2026-03-03, 11:00 + 3 working hours: 1 h before lunch, 2 h after it.
    assert OFFICE.add(beijing(2026, 3, 3, 11), 3 * HOUR) == beijing(2026, 3, 3, 15, 30)
    # Past the end of the day: continues next morning.
    assert OFFICE.add(beijing(2026, 3, 3, 17), HOUR) == beijing(2026, 3, 4, 9, 30)
    # Reported at night: the clock starts at 09:00.
    assert OFFICE.add(beijing(2026, 3, 3, 22), HOUR) == beijing(2026, 3, 4, 10)


def test_weekends_and_national_day_do_not_count() -> None:
    # Friday 2026-03-06 17:00 + 2 working hours: the weekend is skipped.
    assert OFFICE.add(beijing(2026, 3, 6, 17), 2 * HOUR) == beijing(2026, 3, 9, 10, 30)
    # Thursday 2026-09-24 17:00: Mid-Autumn (25 September) and the weekend are off.
    assert OFFICE.add(beijing(2026, 9, 24, 17), 2 * HOUR) == beijing(2026, 9, 28, 10, 30)
    # National Day holidays, 1-7 October 2026: a working Wednesday evening, then nothing
    # counts until Thursday the 8th.
    assert OFFICE.add(beijing(2026, 9, 30, 17), 2 * HOUR) == beijing(2026, 10, 8, 10, 30)
    assert OFFICE.between(beijing(2026, 10, 1), beijing(2026, 10, 8)) == 0


def test_a_make_up_workday_counts_even_on_a_saturday() -> None:
    saturday = beijing(2026, 2, 14, 9)  # 调休: a working Saturday before the Spring Festival
    assert saturday.weekday() == 5
    assert OFFICE.between(saturday, beijing(2026, 2, 14, 18)) == 7 * HOUR


@settings(max_examples=60, deadline=None)
@given(
    start=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2026, 9, 1), timezones=st.just(UTC)
    ),
    # Up to 40 working days: within 2026, the last year chinese-calendar knows here.
    seconds=st.floats(min_value=0, max_value=40 * 7 * HOUR),
)
def test_adding_then_measuring_gives_back_the_same_time(start: datetime, seconds: float) -> None:
    end = OFFICE.add(start, seconds)
    assert abs(OFFICE.between(start, end) - seconds) < 1e-3
