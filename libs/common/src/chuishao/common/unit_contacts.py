"""A unit's contact channels as the units bucket holds them (`chuishao.common.units`):
the type only, so the domain cores can name it without reaching the bucket."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, HttpUrl

from chuishao.common.domain import Level, UnitId


class UnitContact(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: UnitId
    name: str
    kind: Literal["department", "community", "co_building", "command_centre", "district"]
    level: Level
    webhook_url: HttpUrl | None = None
    # Where a command centre or district answers for (its place, from the directory's
    # coverage expanded to street codes): intake scopes a supervisor's reads and commands
    # to tickets on these streets. Empty for ordinary units, which see only their own
    # tickets; the city level answers for every street whatever this says.
    streets: tuple[str, ...] = ()
    # Place codes it serves (grid, community, street, district or city): what a
    # supervisor's key may see (supervision scopes its board by it).
    coverage: tuple[str, ...] = ()
    # The duty desk's phone (the directory's contact.phone): notify texts it a reminder
    # before the report-in deadline. A unit's number, not a resident's; still never logged.
    duty_phone: str | None = None
