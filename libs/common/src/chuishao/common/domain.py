"""The vocabulary every event and command shares."""

from enum import StrEnum
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

TicketId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$", examples=["T20261121000042"])]
UnitId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", examples=["grid-heyuan"])]
CategoryCode = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_]{0,63}$", examples=["fire_box"])]


class Channel(StrEnum):
    """Where a report came in."""

    HOTLINE_12345 = "hotline_12345"
    SNAP_IT = "snap_it"  # mini-program 随手拍
    GRID_WORKER = "grid_worker"
    BUILDING_LEADER = "building_leader"
    MOBILE_GRID_WORKER = "mobile_grid_worker"  # delivery riders as 流动网格员
    OPEN311 = "open311"
    BATCH_IMPORT = "batch_import"


class Priority(StrEnum):
    NORMAL = "normal"
    URGENT = "urgent"
    EMERGENCY = "emergency"


class Level(StrEnum):
    """The escalation ladder, lowest first."""

    COMMUNITY = "community"
    STREET = "street"
    DISTRICT = "district"
    CITY = "city"

    def next(self) -> "Level | None":
        ladder = list(Level)
        index = ladder.index(self)
        return ladder[index + 1] if index + 1 < len(ladder) else None


class Role(StrEnum):
    LEAD = "lead"  # 主办
    CO = "co"  # 协办
    SUPERVISOR = "supervisor"  # 督办: a higher level summoned by an escalation


class DeclineReason(StrEnum):
    """Why a unit returns a ticket (退单)."""

    NOT_OUR_RESPONSIBILITY = "not_our_responsibility"
    WRONG_LOCATION = "wrong_location"
    DUPLICATE = "duplicate"
    INSUFFICIENT_INFORMATION = "insufficient_information"
    OTHER = "other"


class Rating(StrEnum):
    SATISFIED = "satisfied"  # 满意
    BASICALLY_SATISFIED = "basically_satisfied"  # 基本满意
    UNSATISFIED = "unsatisfied"  # 不满意


class Whistle(StrEnum):
    NONE = "none"
    DAILY = "daily"  # 日常哨
    COORDINATION = "coordination"  # 协同哨
    EMERGENCY = "emergency"  # 应急哨


class ClockKind(StrEnum):
    REPORT_FOR_DUTY = "report_for_duty"  # 签收
    FIRST_RESPONSE = "first_response"
    RESOLUTION = "resolution"


class Location(BaseModel):
    """Where the problem is: a point, an address, a grid code, or several of them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    lat: float | None = Field(default=None, ge=-90, le=90)
    long: float | None = Field(default=None, ge=-180, le=180)
    address: str | None = Field(default=None, min_length=1, max_length=500)
    grid_code: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,64}$")

    @model_validator(mode="after")
    def _one_way_to_place_it(self) -> Self:
        if (self.lat is None) != (self.long is None):
            raise ValueError("lat and long must be given together")
        if self.lat is None and self.address is None and self.grid_code is None:
            raise ValueError("give lat and long, an address, or a grid_code")
        return self
