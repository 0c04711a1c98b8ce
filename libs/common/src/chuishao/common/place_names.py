"""A place's name and nesting as the places bucket holds them (`chuishao.common.places`):
the types only, so the domain cores can name them without reaching the bucket."""

from typing import Literal, Protocol

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


class PlaceLookup(Protocol):
    """Anything that finds a place by its code: a dict, the places bucket's view."""

    def get(self, code: str, /) -> PlaceName | None: ...


def street_of(places: PlaceLookup, code: str) -> str | None:
    """The street (街道, or township 镇) a place lies in — a grid's community's street —
    or None when the place, or a step up from it, is not known."""
    seen: set[str] = set()
    place = places.get(code)
    while place is not None and place.code not in seen:  # a cycle in bad data ends
        if place.kind == "street":
            return place.code
        seen.add(place.code)
        place = places.get(place.parent) if place.parent else None
    return None
