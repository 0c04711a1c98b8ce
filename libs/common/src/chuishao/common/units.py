"""The units' contact channels: written by the router from its directory, read by notify.
Webhook signing secrets are not here: they come from notify's settings."""

from typing import Literal

from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType
from pydantic import BaseModel, ConfigDict, HttpUrl

from chuishao.common.domain import Level, UnitId
from chuishao.common.kv import KvView, publish_all

BUCKET = KeyValueConfig(
    bucket="units",
    description="Units and their delivery channels, from the router's directory",
    history=1,
    storage=StorageType.FILE,
)


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


async def publish_units(js: JetStreamContext, units: list[UnitContact]) -> None:
    await publish_all(js, BUCKET, {unit.id: unit for unit in units})


def units_view() -> KvView[UnitContact]:
    return KvView(BUCKET, UnitContact)
