"""Durations as people write them in the policy file and the time-travel CLI: "30m",
"2h", "48h", "7d", "1d12h", "90s"."""

import re
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict

_PART = re.compile(r"(\d+(?:\.\d+)?)([dhms])")
_SECONDS = {"h": 3600, "m": 60, "s": 1}


class Limit(BaseModel):
    """A time limit. Days are kept apart from hours because a business calendar counts a
    day as one working day (its working hours), not 24 hours."""

    model_config = ConfigDict(frozen=True)

    days: float = 0
    seconds: float = 0

    def __str__(self) -> str:
        text = (f"{self.days:g}d" if self.days else "") + (
            f"{self.seconds:g}s" if self.seconds else ""
        )
        return text or "0s"


def parse_limit(text: str) -> Limit:
    compact = text.strip().replace(" ", "").lower()
    if not compact or _PART.sub("", compact):
        raise ValueError(f"not a duration: {text!r} (write e.g. 30m, 2h, 48h, 7d, 1d12h)")
    days = seconds = 0.0
    for number, unit in _PART.findall(compact):
        if unit == "d":
            days += float(number)
        else:
            seconds += float(number) * _SECONDS[unit]
    if days == 0 and seconds == 0:
        raise ValueError(f"a limit must be longer than zero: {text!r}")
    return Limit(days=days, seconds=seconds)


def parse_seconds(text: str) -> float:
    """A signed duration in plain seconds (a day is 24 hours): "+48h", "-30m"."""
    stripped = text.strip()
    sign = -1.0 if stripped.startswith("-") else 1.0
    limit = parse_limit(stripped.lstrip("+-"))
    return sign * (limit.days * 86_400 + limit.seconds)


def _coerce(value: object) -> object:
    if isinstance(value, str):
        return None if value.strip().lower() in ("off", "none") else parse_limit(value)
    return value


LimitField = Annotated[Limit | None, BeforeValidator(_coerce)]
"""A limit in the policy file; "off" switches off a clock an earlier rule set."""
