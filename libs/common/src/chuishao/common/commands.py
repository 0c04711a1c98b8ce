"""Commands: what a sender asks the system to do, imperative, validated strictly."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

from chuishao.common.domain import CategoryCode, Channel, Location, Priority

# Mainland mobile numbers, or landlines with an area code (e.g. 010-12345678).
Phone = Annotated[
    str, Field(pattern=r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$", examples=["13800138000"])
]


class Reporter(BaseModel):
    """Who reported; kept only in the ticket record, never in events or logs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=64)
    phone: Phone | None = None


class Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SubmitReport(Command):
    """File a report (受理)."""

    type: Literal["SubmitReport"] = "SubmitReport"
    schema_version: Literal[1] = 1
    category: CategoryCode
    description: str = Field(min_length=1, max_length=4000)
    location: Location
    channel: Channel
    priority: Priority = Priority.NORMAL
    media_urls: tuple[HttpUrl, ...] = Field(default=(), max_length=20)
    reporter: Reporter | None = None


COMMAND_TYPES: tuple[type[Command], ...] = (SubmitReport,)
