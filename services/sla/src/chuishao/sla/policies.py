"""SLA policies: the limits of each clock per category × priority × level, from a TOML
file (`data/policies.toml`, or CHUISHAO_SLA_POLICIES_FILE).

`[defaults]` sets every field. `[[rules]]` then apply in file order: a rule matches when
each selector it gives (categories, priorities, levels) contains the ticket's value, and
it overrides only the fields it sets, so a later rule wins over an earlier one.
"""

import tomllib
from dataclasses import dataclass
from datetime import time
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from chuishao.common.domain import CategoryCode, ClockKind, Level, Priority
from chuishao.sla.calendars import ALWAYS_OPEN, Calendar, WorkingHours
from chuishao.sla.durations import Limit, LimitField

LADDER_ORDER = list(Level)
CLOCK_FIELDS = {kind: kind.value for kind in ClockKind}


class PolicyError(ValueError):
    """The policy file is wrong; the message says where."""


class CalendarSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    timezone: str = "Asia/Shanghai"
    hours: tuple[str, ...] = Field(min_length=1, examples=[["09:00-12:00", "13:30-17:30"]])
    holidays: Literal["china", "none"] = "china"

    def build(self, name: str) -> WorkingHours:
        windows = []
        for window in self.hours:
            start, _, end = window.partition("-")
            windows.append((time.fromisoformat(start.strip()), time.fromisoformat(end.strip())))
        return WorkingHours(name, windows, self.timezone, self.holidays)


class Settable(BaseModel):
    """The fields a policy sets."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    report_for_duty: LimitField = None
    first_response: LimitField = None
    resolution: LimitField = None
    manual_dispatch: LimitField = None
    warning_fraction: float = Field(default=0.75, gt=0, lt=1)
    ladder: tuple[Level, ...] = tuple(Level)
    calendar: str = "24x7"
    # Clocks whose breach at a level with a command centre (street and up) summons that
    # level's own centre first, when it is not on the ticket yet, before the ladder climbs.
    centre_first: tuple[ClockKind, ...] = (ClockKind.REPORT_FOR_DUTY,)

    @model_validator(mode="after")
    def _ladder_goes_up(self) -> Self:
        ranks = [LADDER_ORDER.index(level) for level in self.ladder]
        if not ranks or ranks != sorted(set(ranks)):
            raise ValueError("ladder must list levels once each, lowest first")
        return self


class Defaults(Settable):
    @model_validator(mode="after")
    def _resolution_is_set(self) -> Self:
        if self.resolution is None:
            raise ValueError("defaults must set a resolution limit")
        return self


class PolicyRule(Settable):
    categories: tuple[CategoryCode, ...] = ()
    priorities: tuple[Priority, ...] = ()
    levels: tuple[Level, ...] = ()

    def matches(self, category: str | None, priority: Priority, level: Level) -> bool:
        return (
            (not self.categories or category in self.categories)
            and (not self.priorities or priority in self.priorities)
            and (not self.levels or level in self.levels)
        )

    def overrides(self) -> dict[str, object]:
        selectors = {"categories", "priorities", "levels"}
        return {
            name: getattr(self, name) for name in self.model_fields_set if name not in selectors
        }


class PolicyFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int
    defaults: Defaults
    calendars: dict[str, CalendarSpec] = {}
    rules: tuple[PolicyRule, ...] = ()

    @model_validator(mode="after")
    def _known_calendars(self) -> Self:
        known = {"24x7", *self.calendars}
        for where, settable in [("defaults", self.defaults)] + [
            (f"rules[{index}]", rule) for index, rule in enumerate(self.rules)
        ]:
            if settable.calendar not in known:
                raise ValueError(f"{where}: unknown calendar {settable.calendar!r}")
            switched_off = "resolution" in settable.model_fields_set and settable.resolution is None
            if switched_off:
                raise ValueError(f"{where}: the resolution clock cannot be switched off")
        return self


@dataclass(frozen=True)
class SlaPolicy:
    """What applies to one ticket at one level."""

    limits: dict[ClockKind, Limit | None]
    warning_fraction: float
    ladder: tuple[Level, ...]
    calendar: Calendar
    centre_first: tuple[ClockKind, ...] = ()

    def limit_seconds(self, clock: ClockKind) -> float | None:
        limit = self.limits[clock]
        return self.calendar.budget(limit) if limit is not None else None

    def next_level(self, level: Level) -> Level | None:
        rank = LADDER_ORDER.index(level)
        return next((up for up in self.ladder if LADDER_ORDER.index(up) > rank), None)


class PolicyBook:
    def __init__(self, spec: PolicyFile, source: str) -> None:
        self.spec = spec
        self.source = source
        self.calendars: dict[str, Calendar] = {"24x7": ALWAYS_OPEN} | {
            name: calendar.build(name) for name, calendar in spec.calendars.items()
        }
        self.policy = lru_cache(maxsize=1024)(self._resolve)

    @classmethod
    def load(cls, path: Path | None = None) -> "PolicyBook":
        if path is None:
            text = resources.files("chuishao.sla").joinpath("data/policies.toml").read_text()
            source = "chuishao.sla:data/policies.toml"
        else:
            text, source = path.read_text(encoding="utf-8"), str(path)
        return cls.parse(text, source)

    @classmethod
    def parse(cls, text: str, source: str = "<policies>") -> "PolicyBook":
        try:
            spec = PolicyFile.model_validate(tomllib.loads(text))
        except tomllib.TOMLDecodeError as error:
            raise PolicyError(f"{source}: not valid TOML: {error}") from error
        except ValidationError as error:
            raise PolicyError(f"{source}: {error}") from error
        return cls(spec, source)

    def _resolve(self, category: str | None, priority: Priority, level: Level) -> SlaPolicy:
        fields = {name: getattr(self.spec.defaults, name) for name in Settable.model_fields}
        for rule in self.spec.rules:
            if rule.matches(category, priority, level):
                fields |= rule.overrides()
        return SlaPolicy(
            limits={kind: fields[CLOCK_FIELDS[kind]] for kind in ClockKind},
            warning_fraction=fields["warning_fraction"],
            ladder=fields["ladder"],
            calendar=self.calendars[fields["calendar"]],
            centre_first=fields["centre_first"],
        )
