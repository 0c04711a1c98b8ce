"""Units (departments, communities, co-building units, command centres) and how routes
name them: by id, or by function so the place decides which unit it is."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

from chuishao.common import subjects
from chuishao.common.domain import CategoryCode, Level, Priority, UnitId, Whistle
from chuishao.common.unit_contacts import UnitContact
from chuishao.router.places import PlaceCode

# The same kinds as chuishao.common.units.UnitContact, which notify reads.
UnitKind = Literal["department", "community", "co_building", "command_centre", "district"]
FunctionCode = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$", examples=["grid_station"])]

# Who is summoned at each rung of the escalation ladder, and who arbitrates.
GRID_STATION = "grid_station"
COMMAND_CENTRE = "command_centre"
DISTRICT_CENTRE = "district_centre"
CITY_CENTRE = "city_centre"
SUPERVISOR_FUNCTION: dict[Level, str] = {
    Level.COMMUNITY: GRID_STATION,
    Level.STREET: COMMAND_CENTRE,
    Level.DISTRICT: DISTRICT_CENTRE,
    Level.CITY: CITY_CENTRE,
}


class Contact(BaseModel):
    """How people reach the unit's duty desk; never logged."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    phone: str | None = None
    email: str | None = None


class Unit(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: UnitId
    name: str = Field(min_length=1)
    kind: UnitKind
    level: Level
    function: FunctionCode = Field(description="What the unit does: grid_station, fire_rescue …")
    also: tuple[FunctionCode, ...] = Field(
        default=(),
        description="Further functions it serves where it is the most local unit: a village "
        "committee (村委会) is also its village's grid station",
    )
    coverage: tuple[PlaceCode, ...] = Field(
        min_length=1, description="Places it serves: grid, community, street, district or city"
    )
    contact: Contact = Contact()
    webhook_url: HttpUrl | None = None

    @property
    def subject(self) -> str:
        """The NATS subjects its dispatches arrive on (its NATS user may read only these)."""
        return subjects.unit_inbox(self.id)

    def serves(self, function: str) -> bool:
        return function == self.function or function in self.also

    def as_contact(self, streets: tuple[str, ...] = ()) -> UnitContact:
        """`streets`: the streets its coverage spans (Directory.streets_served)."""
        return UnitContact(
            id=self.id,
            name=self.name,
            kind=self.kind,
            level=self.level,
            webhook_url=self.webhook_url,
            coverage=self.coverage,
            streets=streets,
            duty_phone=self.contact.phone,
        )


class ByFunction(BaseModel):
    """A unit named by what it does; the ticket's place picks the one that covers it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    function: FunctionCode


UnitRef = UnitId | ByFunction


class Route(BaseModel):
    """One row of the table plugin: a category and who handles it, no code needed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    category: CategoryCode
    name: str
    description: str = ""
    group: str = ""
    keywords: tuple[str, ...] = ()
    lead: UnitRef
    alternates: tuple[UnitRef, ...] = Field(
        default=(), description="Who takes the lead, in order, when the lead declines"
    )
    co: tuple[UnitRef, ...] = ()
    level: Level | None = Field(default=None, description="Default: the lead unit's level")
    whistle: Whistle = Whistle.DAILY
    priority: Priority = Priority.NORMAL
    report_within_minutes: int | None = Field(default=None, gt=0)
