"""The place hierarchy: city → district → street → community → grid.

Coordinates are (long, lat) pairs, GeoJSON order, WGS-84 degrees.
"""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from chuishao.common.domain import Level

PlaceCode = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$", examples=["HY-01"])]
Coordinate = tuple[Annotated[float, Field(ge=-180, le=180)], Annotated[float, Field(ge=-90, le=90)]]


class Area(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    code: PlaceCode
    name: str = Field(min_length=1)
    # Address keywords that name this place (estate names, roads): 和园小区, 和园路.
    aliases: tuple[str, ...] = ()
    polygon: tuple[Coordinate, ...] | None = Field(default=None, min_length=3)
    centroid: Coordinate | None = None


class City(Area):
    pass


class District(Area):
    pass


class Street(Area):
    district: PlaceCode


class Community(Area):
    street: PlaceCode


class Grid(Area):
    community: PlaceCode


FoundBy = Literal["grid_code", "polygon", "nearest_grid", "address", "district_default"]


class Place(BaseModel):
    """Where a ticket is, as far as the directory can tell: always a district, then as
    many levels below it as the location allowed."""

    model_config = ConfigDict(frozen=True)

    city: PlaceCode
    district: PlaceCode
    street: PlaceCode | None = None
    community: PlaceCode | None = None
    grid: PlaceCode | None = None
    found_by: FoundBy

    def codes(self) -> tuple[str, ...]:
        """The place and every place containing it, most specific first."""
        chain = (self.grid, self.community, self.street, self.district, self.city)
        return tuple(code for code in chain if code is not None)

    def code_at(self, level: Level) -> str | None:
        return {
            Level.COMMUNITY: self.community,
            Level.STREET: self.street,
            Level.DISTRICT: self.district,
            Level.CITY: self.city,
        }[level]
