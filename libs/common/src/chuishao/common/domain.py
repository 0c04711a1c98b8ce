"""The vocabulary every event and command shares."""

import re
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)
from pydantic_core import PydanticCustomError

from chuishao.common.ids import TICKET_ID_PATTERN

TicketId = Annotated[str, Field(pattern=TICKET_ID_PATTERN, examples=["T20261121000042"])]
UnitId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", examples=["grid-heyuan"])]
# Characters no person types and no XML document may hold: C0 controls but tab, newline
# and carriage return, DEL and C1, lone surrogates, U+FFFE/U+FFFF. One NUL in a
# description made requests.xml malformed for every Open311 client.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def printable_text(value: str) -> str:
    if (found := _CONTROL.search(value)) is not None:
        raise PydanticCustomError(
            "control_character",
            # English here; the Chinese is http_errors.VALIDATION_ZH["control_character"].
            "must not contain control characters such as NUL (character {position} is {char})",
            {"position": found.start() + 1, "char": f"U+{ord(found.group()):04X}"},
        )
    return value


def xml_text(value: str) -> str:
    """The text with what XML cannot carry replaced by U+FFFD (for records stored before
    FreeText refused it, and for anything echoed back into a document)."""
    return _CONTROL.sub("\ufffd", value)


# Free text typed by a person (descriptions, notes, reasons, names, addresses): the one
# validator every such field of a command uses; its length is the field's own.
FreeText = Annotated[str, AfterValidator(printable_text)]

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
    # 未诉先办: opened by a command centre (street, district, city) before anyone
    # complained, from a hotspot warning or the month's 每月一题; never by the public.
    PROACTIVE = "proactive"


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


class AppealSubject(StrEnum):
    """What a unit contests (申诉), docs/supervision.md "Appeals and exemptions"."""

    RATING = "rating"  # an unsatisfied rating (不满意) of its handling
    BREACH = "breach"  # a deadline it missed (超期)
    DECLINE = "decline"  # its return of the ticket (退单) was justified
    FORCE_MAJEURE = "force_majeure"  # 不可抗力: it could not act


class AppealOutcome(StrEnum):
    UPHELD = "upheld"  # 支持: an exemption (免责)
    REJECTED = "rejected"  # 驳回


# The labels the mini-programs and the SMS reply send, as the resident reads them.
RATING_LABELS: dict[str, Rating] = {
    "满意": Rating.SATISFIED,
    "基本满意": Rating.BASICALLY_SATISFIED,
    "不满意": Rating.UNSATISFIED,
}


def _rating_from_label(value: Any) -> Any:
    if isinstance(value, str):
        return RATING_LABELS.get(value.strip(), value)
    return value


# What a rating command accepts: the codes, or the Chinese labels (stored as the code).
RatingInput = Annotated[
    Rating,
    BeforeValidator(
        _rating_from_label,
        json_schema_input_type=Rating | Literal["满意", "基本满意", "不满意"],
    ),
]


class Whistle(StrEnum):
    NONE = "none"
    DAILY = "daily"  # 日常哨
    COORDINATION = "coordination"  # 协同哨
    EMERGENCY = "emergency"  # 应急哨


class ClockKind(StrEnum):
    REPORT_FOR_DUTY = "report_for_duty"  # 签收
    FIRST_RESPONSE = "first_response"
    RESOLUTION = "resolution"
    # 派单: a ticket no rule could place waits for its command centre to dispatch it.
    MANUAL_DISPATCH = "manual_dispatch"


class Location(BaseModel):
    """Where the problem is: a point, an address, a grid code, or several of them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # NaN and 1e999 (infinity) are refused as numbers, before any range check.
    lat: float | None = Field(default=None, ge=-90, le=90, allow_inf_nan=False)
    long: float | None = Field(default=None, ge=-180, le=180, allow_inf_nan=False)
    # Free text, but checked for control characters by the commands that take it, not
    # here: a Location is read back from stored records and events too.
    address: str | None = Field(default=None, min_length=1, max_length=500)
    grid_code: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,64}$")

    @model_validator(mode="after")
    def _one_way_to_place_it(self) -> Self:
        if (self.lat is None) != (self.long is None):
            raise ValueError("lat and long must be given together")
        if self.lat is None and self.address is None and self.grid_code is None:
            raise ValueError("give lat and long, an address, or a grid_code")
        return self


class DirectAnswer(BaseModel):
    """直接答复: a 12345 operator answered the call from the knowledge base, so the report
    is recorded and closed at once, never dispatched (counted apart: 直接答复率)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    entry_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="The knowledge entry")
    version: int = Field(ge=1, description="The entry's version the answer came from")
    answer: FreeText = Field(min_length=1, max_length=2000, description="What was said")
