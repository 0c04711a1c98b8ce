"""The directory file as written (TOML), before its references are checked."""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from chuishao.common.place_names import PlaceName
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


def _shape(area: Area) -> dict[str, Any]:
    """The outline and centre the console's map draws (the same coordinates as the file)."""
    return {"polygon": area.polygon, "centroid": area.centroid}


def place_names(document: DirectoryDocument) -> list[PlaceName]:
    """Every place's name, the place containing it and its shape, for the `places` bucket."""
    return [
        PlaceName(
            code=document.city.code, name=document.city.name, kind="city", **_shape(document.city)
        ),
        *(
            PlaceName(
                code=d.code, name=d.name, kind="district", parent=document.city.code, **_shape(d)
            )
            for d in document.districts
        ),
        *(
            PlaceName(code=s.code, name=s.name, kind="street", parent=s.district, **_shape(s))
            for s in document.streets
        ),
        *(
            PlaceName(code=c.code, name=c.name, kind="community", parent=c.street, **_shape(c))
            for c in document.communities
        ),
        *(
            PlaceName(code=g.code, name=g.name, kind="grid", parent=g.community, **_shape(g))
            for g in document.grids
        ),
    ]
