"""The directory file as written (TOML), before its references are checked."""

from pydantic import BaseModel, ConfigDict, Field

from chuishao.router.places import Area, City, Community, District, Grid, Street
from chuishao.router.units import Route, Unit


class DirectoryDocument(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int = Field(ge=1, description="Bump on every change; logged at (re)load")
    city: City
    districts: tuple[District, ...] = Field(min_length=1)
    streets: tuple[Street, ...] = ()
    communities: tuple[Community, ...] = ()
    grids: tuple[Grid, ...] = ()
    units: tuple[Unit, ...]
    routes: tuple[Route, ...] = ()

    def areas(self) -> list[Area]:
        return [self.city, *self.districts, *self.streets, *self.communities, *self.grids]
