"""A place's name and nesting as the places bucket holds them (`chuishao.common.places`):
the types only, so the domain cores can name them without reaching the bucket."""

from typing import Literal

from pydantic import BaseModel, ConfigDict

PlaceKind = Literal["city", "district", "street", "community", "grid"]


class PlaceName(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: str
    name: str
    kind: PlaceKind
    parent: str | None = None  # the code of the place containing it (None for the city)
    # Its outline and centre, (long, lat) WGS-84, from the directory: the console draws its
    # map from these (no map tiles from outside). None where the directory has none.
    polygon: tuple[tuple[float, float], ...] | None = None
    centroid: tuple[float, float] | None = None
