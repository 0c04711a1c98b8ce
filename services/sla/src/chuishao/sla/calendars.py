"""Business calendars: how much of a stretch of time counts towards a limit.

The default is 24×7. A working-hours calendar counts only its daily windows on working
days; with `holidays = "china"` the working days are China's official ones, holidays
(法定节假日) off and make-up workdays (调休) on, from the `chinese-calendar` package.
"""

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Literal, Protocol
from zoneinfo import ZoneInfo

import chinese_calendar  # type: ignore[import-untyped]
import structlog

from chuishao.sla.durations import Limit

DAY_SECONDS = 86_400.0
# A limit that cannot be met within this many days is a configuration error, not a
# reason to loop for ever.
HORIZON_DAYS = 3_660

log = structlog.get_logger()


class Calendar(Protocol):
    name: str

    def budget(self, limit: Limit) -> float:
        """The limit in this calendar's seconds."""
        ...

    def add(self, start: datetime, seconds: float) -> datetime:
        """The moment `seconds` of counted time after `start`."""
        ...

    def between(self, start: datetime, end: datetime) -> float:
        """Counted seconds from `start` to `end` (0 if end is not after start)."""
        ...


class AlwaysOpen:
    """24×7: every second counts."""

    name = "24x7"

    def budget(self, limit: Limit) -> float:
        return limit.days * DAY_SECONDS + limit.seconds

    def add(self, start: datetime, seconds: float) -> datetime:
        return start + timedelta(seconds=seconds)

    def between(self, start: datetime, end: datetime) -> float:
        return max((end - start).total_seconds(), 0.0)


@lru_cache(maxsize=4096)
def _china_workday(day: date) -> bool:
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        # The package covers the years the State Council has announced; past them the
        # plain week is the best guess until the package is updated.
        log.warning("china_calendar_year_unknown", year=day.year)
        return day.weekday() < 5


class WorkingHours:
    """Daily windows (e.g. 09:00–12:00 and 13:30–17:30) on working days, in a time zone.
    A day of limit ("7d") is one working day: the sum of the windows."""

    def __init__(
        self,
        name: str,
        windows: list[tuple[time, time]],
        timezone: str = "Asia/Shanghai",
        holidays: Literal["china", "none"] = "china",
    ) -> None:
        if not windows or any(start >= end for start, end in windows):
            raise ValueError(f"calendar {name}: windows must be non-empty start<end pairs")
        self.name = name
        self.windows = sorted(windows)
        self.zone = ZoneInfo(timezone)
        self.holidays = holidays
        self.day_seconds = sum(
            (datetime.combine(date.min, end) - datetime.combine(date.min, start)).total_seconds()
            for start, end in self.windows
        )

    def is_working_day(self, day: date) -> bool:
        if self.holidays == "china":
            return _china_workday(day)
        return day.weekday() < 5

    def budget(self, limit: Limit) -> float:
        return limit.days * self.day_seconds + limit.seconds

    def _open_spans(self, first: date, days: int) -> list[tuple[datetime, datetime]]:
        spans = []
        for offset in range(days):
            day = first + timedelta(days=offset)
            if self.is_working_day(day):
                spans += [
                    (
                        datetime.combine(day, start, self.zone).astimezone(UTC),
                        datetime.combine(day, end, self.zone).astimezone(UTC),
                    )
                    for start, end in self.windows
                ]
        return spans

    def add(self, start: datetime, seconds: float) -> datetime:
        remaining = max(seconds, 0.0)
        day = start.astimezone(self.zone).date()
        for _ in range(HORIZON_DAYS):
            for span_start, span_end in self._open_spans(day, 1):
                begin = max(start, span_start)
                available = (span_end - begin).total_seconds()
                if available <= 0:
                    continue
                if remaining <= available:
                    return begin + timedelta(seconds=remaining)
                remaining -= available
            day += timedelta(days=1)
        raise ValueError(f"calendar {self.name}: no deadline within {HORIZON_DAYS} days")

    def between(self, start: datetime, end: datetime) -> float:
        if end <= start:
            return 0.0
        first = start.astimezone(self.zone).date()
        days = (end.astimezone(self.zone).date() - first).days + 1
        return sum(
            max((min(end, span_end) - max(start, span_start)).total_seconds(), 0.0)
            for span_start, span_end in self._open_spans(first, days)
        )


ALWAYS_OPEN = AlwaysOpen()
