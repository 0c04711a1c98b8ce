"""Commands: what a sender asks the system to do, imperative, validated strictly."""

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, HttpUrl
from pydantic_core import PydanticCustomError

from chuishao.common.domain import (
    AppealOutcome,
    AppealSubject,
    CategoryCode,
    Channel,
    DeclineReason,
    DirectAnswer,
    FreeText,
    Location,
    Priority,
    RatingInput,
    TicketId,
    UnitId,
    printable_text,
)

# Mainland mobile numbers, or landlines with an area code (e.g. 010-12345678).
Phone = Annotated[
    str, Field(pattern=r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$", examples=["13800138000"])
]


# Attribute answers are bounded here, whatever the category says (it narrows further in
# intake's attributes.check): one 1.5 MB answer once made an event NATS would not take,
# and a 200,000-value list was accepted.
MAX_ATTRIBUTES = 50
MAX_ATTRIBUTE_CODE = 64  # characters, printable (FreeText's rules)
MAX_ATTRIBUTE_TEXT = 4000  # an Open311 `text` answer; a `string` one is shorter
MAX_ATTRIBUTE_VALUE = 500  # one value of a list
MAX_ATTRIBUTE_VALUES = 100


def _bounded_answers(answers: dict[str, str | list[str]]) -> dict[str, str | list[str]]:
    # English here; the Chinese is http_errors.VALIDATION_ZH["attribute_too_large"].
    def refuse(code: str, en: str, limit: int) -> PydanticCustomError:
        return PydanticCustomError("attribute_too_large", en, {"code": code, "limit": limit})

    for code, answer in answers.items():
        # The code first, and before it is echoed in any message: a lone surrogate in it
        # ({"\ud800": "a"}) once reached an error message no renderer could encode (a 500).
        try:
            printable_text(code)
        except PydanticCustomError as error:
            raise PydanticCustomError(
                "control_character",
                "attribute codes must not contain control characters such as NUL"
                " (character {position} is {char})",
                error.context,
            ) from None
        if len(code) > MAX_ATTRIBUTE_CODE:
            raise refuse(
                code[:MAX_ATTRIBUTE_CODE],
                "attribute code {code} is over {limit} characters",
                MAX_ATTRIBUTE_CODE,
            )
        values = answer if isinstance(answer, list) else [answer]
        if isinstance(answer, list) and len(answer) > MAX_ATTRIBUTE_VALUES:
            raise refuse(
                code, "attribute {code} takes at most {limit} values", MAX_ATTRIBUTE_VALUES
            )
        limit = MAX_ATTRIBUTE_VALUE if isinstance(answer, list) else MAX_ATTRIBUTE_TEXT
        for value in values:
            if len(value) > limit:
                raise refuse(
                    code, "attribute {code} is too long: at most {limit} characters", limit
                )
            printable_text(value)
    return answers


Attributes = Annotated[
    dict[str, str | list[str]],
    Field(max_length=MAX_ATTRIBUTES),
    AfterValidator(_bounded_answers),
]


def _printable_address(location: Location) -> Location:
    if location.address is not None:
        printable_text(location.address)
    return location


class Reporter(BaseModel):
    """Who reported; kept only in the ticket record, never in events or logs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # repr=False: a command or record printed in a traceback or a log never shows who.
    name: FreeText | None = Field(default=None, min_length=1, max_length=64, repr=False)
    phone: Phone | None = Field(default=None, repr=False)
    email: str | None = Field(default=None, pattern=r"^[^@\s]{1,64}@[^@\s]{1,255}$", repr=False)


class Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SubmitReport(Command):
    """File a report (受理)."""

    type: Literal["SubmitReport"] = "SubmitReport"
    schema_version: Literal[1] = 1
    category: CategoryCode | None = Field(
        default=None, description="Leave out to let the router's triage suggest one"
    )
    description: FreeText = Field(min_length=1, max_length=4000)
    location: Annotated[Location, AfterValidator(_printable_address)]
    channel: Channel
    priority: Priority = Priority.NORMAL
    media_urls: tuple[HttpUrl, ...] = Field(default=(), max_length=20)
    reporter: Reporter | None = None
    attributes: Attributes = Field(
        default_factory=dict, description="Answers to the category's Open311 attributes"
    )
    answered: DirectAnswer | None = Field(
        default=None,
        description="直接答复 (operators only): answered from the knowledge base on the call; "
        "the ticket is closed at once and never dispatched",
    )


class TicketCommand(Command):
    """A command about one ticket. `expected_version`, when given, makes the command
    fail with a conflict if the ticket changed since the sender last read it."""

    ticket_id: TicketId
    expected_version: int | None = Field(default=None, ge=1)


class AcknowledgeTicket(TicketCommand):
    """A summoned unit reports for duty (报到/签收)."""

    type: Literal["AcknowledgeTicket"] = "AcknowledgeTicket"
    schema_version: Literal[1] = 1


class DeclineTicket(TicketCommand):
    """Return a ticket that is not the unit's own (退单), with a reason."""

    type: Literal["DeclineTicket"] = "DeclineTicket"
    schema_version: Literal[1] = 1
    reason_code: DeclineReason
    note: FreeText = Field(default="", max_length=2000)


class AddProgressNote(TicketCommand):
    """Record progress on the unit's part."""

    type: Literal["AddProgressNote"] = "AddProgressNote"
    schema_version: Literal[1] = 1
    note: FreeText = Field(min_length=1, max_length=2000)
    public: bool = Field(
        default=False,
        description="公开进展: shown to everyone on Open311 (servicerequestupdates). Leave"
        " false for anything naming people, phone numbers or internal steps",
    )


class RequestExtension(TicketCommand):
    """Ask for more time (延期)."""

    type: Literal["RequestExtension"] = "RequestExtension"
    schema_version: Literal[1] = 1
    extra_hours: float = Field(gt=0, le=24 * 30)
    reason: FreeText = Field(min_length=1, max_length=2000)


class DecideExtension(TicketCommand):
    """A supervisor approves or denies a unit's pending extension request."""

    type: Literal["DecideExtension"] = "DecideExtension"
    schema_version: Literal[1] = 1
    unit_id: UnitId
    approve: bool
    reason: FreeText = Field(default="", max_length=2000)


class TransferTicket(TicketCommand):
    """Hand the unit's part to another unit (转办)."""

    type: Literal["TransferTicket"] = "TransferTicket"
    schema_version: Literal[1] = 1
    to_unit_id: UnitId
    reason: FreeText = Field(min_length=1, max_length=2000)


class AwaitResident(TicketCommand):
    """The unit needs the resident (access, information): clocks pause."""

    type: Literal["AwaitResident"] = "AwaitResident"
    schema_version: Literal[1] = 1
    note: FreeText = Field(min_length=1, max_length=2000)


class RecordResidentReply(TicketCommand):
    """The resident answered; clocks run again."""

    type: Literal["RecordResidentReply"] = "RecordResidentReply"
    schema_version: Literal[1] = 1
    note: FreeText = Field(default="", max_length=2000)


class ResolveTicket(TicketCommand):
    """The unit finished its part, with evidence (办结)."""

    type: Literal["ResolveTicket"] = "ResolveTicket"
    schema_version: Literal[1] = 1
    note: FreeText = Field(min_length=1, max_length=2000)
    evidence_urls: tuple[HttpUrl, ...] = Field(default=(), max_length=20)


class RateTicket(TicketCommand):
    """The resident rates the handling; 不满意 reopens the ticket."""

    type: Literal["RateTicket"] = "RateTicket"
    schema_version: Literal[1] = 1
    rating: RatingInput = Field(description="满意 / 基本满意 / 不满意, or the English codes")
    comment: FreeText = Field(default="", max_length=2000)


class CloseTicket(TicketCommand):
    """Close a ticket without a rating."""

    type: Literal["CloseTicket"] = "CloseTicket"
    schema_version: Literal[1] = 1
    reason: Literal["feedback_window_elapsed", "duplicate", "withdrawn"]


class RecategoriseTicket(TicketCommand):
    """Change the category or priority; clocks recompute."""

    type: Literal["RecategoriseTicket"] = "RecategoriseTicket"
    schema_version: Literal[1] = 1
    category: CategoryCode
    priority: Priority


class UrgeTicket(TicketCommand):
    """A command centre urges a unit by hand (督办): a notice to the unit, recorded in the
    ticket's history. Changes no state and no clock."""

    type: Literal["UrgeTicket"] = "UrgeTicket"
    schema_version: Literal[1] = 1
    unit_id: UnitId
    note: FreeText = Field(default="", max_length=500)


class RecordCallback(TicketCommand):
    """A 12345 operator called the reporter back (回访) and could not get a rating: no
    answer, or the number is unreachable. A rating on the call is RateTicket."""

    type: Literal["RecordCallback"] = "RecordCallback"
    schema_version: Literal[1] = 1
    outcome: Literal["no_answer", "unreachable"]
    note: FreeText = Field(default="", max_length=500)


class SplitReport(TicketCommand):
    """Split a report that was wrongly linked to another ticket back out, so it is routed
    on its own. `ticket_id` is the linked report's own id."""

    type: Literal["SplitReport"] = "SplitReport"
    schema_version: Literal[1] = 1


class FileAppeal(TicketCommand):
    """A unit that was sent the ticket contests (申诉) what counts against it: an
    unsatisfied rating, a missed deadline, its justified return (退单), or force majeure
    (不可抗力). A district or city account decides (DecideAppeal)."""

    type: Literal["FileAppeal"] = "FileAppeal"
    schema_version: Literal[1] = 1
    subject: AppealSubject
    reason: FreeText = Field(min_length=1, max_length=2000)
    evidence_urls: tuple[HttpUrl, ...] = Field(
        default=(), max_length=20, description="Photos of the photo store, as for 办结"
    )


class DecideAppeal(TicketCommand):
    """A district or city account upholds (an exemption, 免责) or rejects a pending
    appeal; once only."""

    type: Literal["DecideAppeal"] = "DecideAppeal"
    schema_version: Literal[1] = 1
    appeal_id: str = Field(min_length=1, max_length=200)
    outcome: AppealOutcome
    note: FreeText = Field(default="", max_length=2000)


COMMAND_TYPES: tuple[type[Command], ...] = (
    SubmitReport,
    AcknowledgeTicket,
    DeclineTicket,
    AddProgressNote,
    RequestExtension,
    DecideExtension,
    TransferTicket,
    AwaitResident,
    RecordResidentReply,
    ResolveTicket,
    RateTicket,
    CloseTicket,
    RecategoriseTicket,
    SplitReport,
    UrgeTicket,
    RecordCallback,
    FileAppeal,
    DecideAppeal,
)
