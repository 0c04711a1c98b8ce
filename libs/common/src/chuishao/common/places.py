"""The places' names and nesting (city → district → street → community → grid): written by
the router from its directory, read by supervision, so pages show 青石街道 rather than
`qingshi` and a street's command centre sees only its own street."""

from typing import Literal

from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType
from pydantic import BaseModel, ConfigDict

from chuishao.common.kv import KvView, publish_all

BUCKET = KeyValueConfig(
    bucket="places",
    description="Places of the router's directory: name, kind and the place containing it",
    history=1,
    storage=StorageType.FILE,
)

PlaceKind = Literal["city", "district", "street", "community", "grid"]


class PlaceName(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: str
    name: str
    kind: PlaceKind
    parent: str | None = None  # the code of the place containing it (None for the city)


async def publish_places(js: JetStreamContext, places: list[PlaceName]) -> None:
    await publish_all(js, BUCKET, {place.code: place for place in places})


def places_view() -> KvView[PlaceName]:
    return KvView(BUCKET, PlaceName)
