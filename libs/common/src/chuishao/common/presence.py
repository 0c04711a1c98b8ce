"""Whether a unit's clerk has the console's queue open: written by the console while a
clerk's live queue page is connected, read by notify, which texts the unit's duty phone
a report-in reminder only when nobody there is watching the page.

A key per unit (the unit id) holding when a page of it was last seen; the bucket keeps
entries a few minutes at most (its TTL), so a console that stops writing leaves nothing
behind. Only unit ids and times: nothing about a person.
"""

from datetime import datetime

from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType
from pydantic import AwareDatetime, BaseModel, ConfigDict

from chuishao.common.kv import KvView, bucket

# How often an open page says so, and how long after that it still counts as open.
BEAT_SECONDS = 30.0
FRESH_SECONDS = 3 * BEAT_SECONDS
BUCKET = KeyValueConfig(
    bucket="console_presence",
    description="Units whose clerk has the console's live queue open (unit id -> last seen)",
    history=1,
    ttl=300,
    storage=StorageType.MEMORY,
)


class Presence(BaseModel):
    model_config = ConfigDict(frozen=True)

    unit: str
    seen_at: AwareDatetime


async def mark_present(js: JetStreamContext, unit: str, at: datetime) -> None:
    kv = await bucket(js, BUCKET)
    await kv.put(unit, Presence(unit=unit, seen_at=at).model_dump_json().encode())


def presence_view() -> KvView[Presence]:
    return KvView(BUCKET, Presence)


def page_open(view: KvView[Presence], unit: str, now: datetime) -> bool:
    """A page of the unit's queue was connected within FRESH_SECONDS."""
    seen = view.get(unit)
    return seen is not None and (now - seen.seen_at).total_seconds() < FRESH_SECONDS
