"""Where the directory places an address being typed (`internal.router.place`): the console
asks with the address so far, the router answers with the place its names and aliases
find there. Only the address is read: no pin, and never the district's default place, so
"not found" means the words name no place. Nothing is stored or logged."""

from collections.abc import Callable

from faststream.nats import NatsBroker

from chuishao.common import subjects
from chuishao.common.domain import Location
from chuishao.common.queries import PlaceAnswer, PlaceQuery
from chuishao.router import asked
from chuishao.router.snapshot import Snapshot


def answer(query: PlaceQuery, snap: Snapshot) -> PlaceAnswer:
    place = snap.directory.locate(Location(address=query.address))
    if place is None or place.found_by != "address":
        return PlaceAnswer(found=False)
    return PlaceAnswer(
        found=True,
        district=place.district,
        street=place.street,
        community=place.community,
        grid=place.grid,
        found_by="address",
    )


def register(broker: NatsBroker, snapshot: Callable[[], Snapshot]) -> None:
    asked.register(broker, subjects.ROUTER_PLACE, PlaceQuery, answer, snapshot)
