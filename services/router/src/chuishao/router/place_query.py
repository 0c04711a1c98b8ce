"""Where the directory places an address being typed (`internal.router.place`): the console
asks with the address so far, the router answers with the place its names and aliases
find there. Only the address is read: no pin, and never the district's default place, so
"not found" means the words name no place. Nothing is stored or logged."""

from collections.abc import Callable
from typing import Any

from faststream.nats import NatsBroker
from pydantic import ValidationError

from chuishao.common import subjects
from chuishao.common.broker import answers_failures, current_message
from chuishao.common.domain import Location
from chuishao.common.errors import invalid_request, nats_error_reply
from chuishao.common.queries import PlaceAnswer, PlaceQuery
from chuishao.common.replies import withhold_reply
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


def handle(body: bytes, snap: Snapshot) -> dict[str, Any]:
    """The reply to one request: the answer, or the one error shape (`ok: false`)."""
    try:
        query = PlaceQuery.model_validate_json(body or b"{}")
    except ValidationError as error:
        return nats_error_reply(invalid_request(error))
    return answer(query, snap).model_dump(mode="json")


def register(broker: NatsBroker, snapshot: Callable[[], Snapshot]) -> None:
    # One queue group: any router replica may answer; answered only on the caller's inbox.
    @broker.subscriber(subjects.ROUTER_PLACE, queue="router")
    @answers_failures
    async def on_place_query() -> dict[str, Any]:
        message = current_message(broker)
        if withhold_reply(message):
            return {}
        return handle(message.body, snapshot())
