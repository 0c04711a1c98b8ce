"""The photo store: photos in the JetStream object store, one bucket per purpose, an
index in a KV bucket (chuishao.common.streams declares them, with the streams' replicas).

    photos-report / photos-evidence   <photo_id> the safe copy, <photo_id>.thumb the thumbnail
    photos-index  photo.<photo_id>    PhotoMeta: the ticket it was given to, purpose, size,
                                      content hash, capture time (evidence metadata)
                  sha.<sha256>        the first ticket a picture was seen on (write-once)
                  ticket.<ticket_id>  the ids of the photos given to the ticket

A photo id is 128 random bits (32 hex digits): it cannot be guessed, and it is still never
enough alone — whoever serves a photo checks that the caller may see its ticket.
"""

import asyncio
import re
import secrets
from collections import OrderedDict
from datetime import datetime
from enum import StrEnum

import structlog
from nats.js import JetStreamContext
from nats.js.errors import (
    BucketNotFoundError,
    KeyNotFoundError,
    KeyWrongLastSequenceError,
    NotFoundError,
    ObjectNotFoundError,
)
from nats.js.kv import KeyValue
from nats.js.object_store import ObjectStore
from pydantic import BaseModel

from chuishao.common.kv import bucket
from chuishao.common.photos.images import Limits, Normalised, normalise, too_large
from chuishao.common.streams import PHOTO_BUCKETS, PHOTO_INDEX, declare_photo_buckets

log = structlog.get_logger()
PHOTO_ID = re.compile(r"^[0-9a-f]{32}$")
# A photo's URL at intake, whichever host name it was given under: tickets hold these in
# `media_urls` and their evidence; the console maps them to its own /photos/<t>/<p>.
PHOTO_PATH = re.compile(r"/api/v1/tickets/([A-Za-z0-9_-]+)/photos/([0-9a-f]{32})(?=[?#]|$)")
# At most this many photos are decoded at once: a 50 MP photo takes ~200 MB while it is.
DECODING_AT_ONCE = 2
INDEX_RETRIES = 8
METAS_KEPT = 10_000  # ~5 MB of metadata kept in memory


class Purpose(StrEnum):
    REPORT = "report"  # a resident's (or an operator's for them) photo of the problem
    EVIDENCE = "evidence"  # a unit's photo of the work done (办结 evidence)


BUCKETS = {Purpose.REPORT: "photos-report", Purpose.EVIDENCE: "photos-evidence"}
assert set(BUCKETS.values()) == {b.bucket for b in PHOTO_BUCKETS}


class PhotoMeta(BaseModel):
    """What the store knows of a photo. Internal: `captured_at`, `sha256`, `uploaded_by`
    and `reused_from` are for units and supervisors, never for residents."""

    photo_id: str
    ticket_id: str
    purpose: Purpose
    content_type: str
    width: int
    height: int
    size: int
    thumb_type: str
    sha256: str
    source_format: str
    captured_at: str | None = None
    uploaded_at: datetime
    uploaded_by: str
    # The ticket this picture was first seen on, when it is evidence here and was seen on
    # another ticket first (or was the resident's own photo of the problem): the command
    # centre checks evidence that proves nothing new.
    reused_from: str | None = None


class FirstSeen(BaseModel):
    ticket_id: str
    photo_id: str
    purpose: Purpose


class TicketPhotos(BaseModel):
    photo_ids: list[str] = []


def is_photo_id(text: str) -> bool:
    return PHOTO_ID.fullmatch(text) is not None


def photo_in(url: str) -> tuple[str, str] | None:
    """(ticket_id, photo_id) of a photo store URL, or None for any other URL."""
    match = PHOTO_PATH.search(url)
    return (match.group(1), match.group(2)) if match else None


def new_photo_id() -> str:
    return secrets.token_hex(16)


def reuse_of(first: FirstSeen | None, ticket_id: str, purpose: Purpose) -> str | None:
    """The ticket to flag an evidence photo against: where the same picture was seen
    first, if that is another ticket, or this ticket's own report photo."""
    if first is None or purpose != Purpose.EVIDENCE:
        return None
    if first.ticket_id != ticket_id or first.purpose == Purpose.REPORT:
        return first.ticket_id
    return None


class PhotoStore:
    def __init__(
        self, index: KeyValue, buckets: dict[Purpose, ObjectStore], limits: Limits
    ) -> None:
        self.index = index
        self.buckets = buckets
        self.limits = limits
        self._decoding = asyncio.Semaphore(DECODING_AT_ONCE)
        # A photo's metadata never changes once written: kept here after the first read.
        self._metas: OrderedDict[str, PhotoMeta] = OrderedDict()

    @classmethod
    async def open(
        cls, js: JetStreamContext, limits: Limits | None = None, *, replicas: int = 1
    ) -> "PhotoStore":
        buckets: dict[Purpose, ObjectStore] = {}
        for purpose, name in BUCKETS.items():
            try:
                buckets[purpose] = await js.object_store(name)
            except (BucketNotFoundError, NotFoundError):
                await declare_photo_buckets(js, replicas)
                buckets[purpose] = await js.object_store(name)
        index = await bucket(js, PHOTO_INDEX)
        return cls(index, buckets, limits or Limits())

    async def normalise(self, data: bytes) -> Normalised:
        """The safe copy (ApiError 415 / 413 / 422 otherwise), decoded off the event loop."""
        if len(data) > self.limits.max_bytes:  # before taking a decoding slot
            raise too_large(self.limits)
        async with self._decoding:
            return await asyncio.to_thread(normalise, data, self.limits)

    async def put(
        self,
        ticket_id: str,
        photo: Normalised,
        purpose: Purpose,
        *,
        uploaded_by: str,
        now: datetime,
        photo_id: str | None = None,
    ) -> PhotoMeta:
        """Keep a normalised photo for a ticket; returns once JetStream holds it."""
        photo_id = photo_id or new_photo_id()
        store = self.buckets[purpose]
        await store.put(photo_id, photo.data)
        await store.put(f"{photo_id}.thumb", photo.thumb)
        seen = FirstSeen(ticket_id=ticket_id, photo_id=photo_id, purpose=purpose)
        first = await self._first_seen(photo.sha256, seen)
        meta = PhotoMeta(
            photo_id=photo_id,
            ticket_id=ticket_id,
            purpose=purpose,
            content_type=photo.content_type,
            width=photo.width,
            height=photo.height,
            size=len(photo.data),
            thumb_type=photo.thumb_type,
            sha256=photo.sha256,
            source_format=photo.source_format,
            captured_at=photo.captured_at,
            uploaded_at=now,
            uploaded_by=uploaded_by,
            reused_from=reuse_of(first, ticket_id, purpose),
        )
        await self.index.put(f"photo.{photo_id}", meta.model_dump_json().encode())
        self._remember(meta)
        await self._attach(ticket_id, photo_id)
        if meta.reused_from is not None:
            log.warning(
                "photo_reused", ticket_id=ticket_id, photo_id=photo_id, first=meta.reused_from
            )
        return meta

    async def _first_seen(self, sha256: str, this: FirstSeen) -> FirstSeen | None:
        """Where the picture was seen before, or None (and this is now its first)."""
        key = f"sha.{sha256}"
        try:
            await self.index.create(key, this.model_dump_json().encode())
        except KeyWrongLastSequenceError:
            entry = await self.index.get(key)
            return FirstSeen.model_validate_json(entry.value or b"{}")
        return None

    async def _attach(self, ticket_id: str, photo_id: str) -> None:
        key = f"ticket.{ticket_id}"
        for _ in range(INDEX_RETRIES):  # optimistic: another upload may add one at once
            try:
                entry = await self.index.get(key)
            except KeyNotFoundError:
                try:
                    value = TicketPhotos(photo_ids=[photo_id]).model_dump_json().encode()
                    await self.index.create(key, value)
                except KeyWrongLastSequenceError:
                    continue
                return
            known = TicketPhotos.model_validate_json(entry.value or b"{}")
            known.photo_ids.append(photo_id)
            try:
                await self.index.update(key, known.model_dump_json().encode(), last=entry.revision)
            except KeyWrongLastSequenceError:
                continue
            return
        raise RuntimeError(f"could not index photo {photo_id} of {ticket_id}")

    async def meta(self, photo_id: str) -> PhotoMeta | None:
        if not is_photo_id(photo_id):
            return None
        if (known := self._metas.get(photo_id)) is not None:
            self._metas.move_to_end(photo_id)
            return known
        try:
            entry = await self.index.get(f"photo.{photo_id}")
        except KeyNotFoundError:
            return None
        if not entry.value:
            return None
        meta = PhotoMeta.model_validate_json(entry.value)
        self._remember(meta)
        return meta

    def _remember(self, meta: PhotoMeta) -> None:
        self._metas[meta.photo_id] = meta
        while len(self._metas) > METAS_KEPT:
            self._metas.popitem(last=False)

    async def metas(self, photo_ids: list[str]) -> list[PhotoMeta]:
        found = await asyncio.gather(*(self.meta(photo_id) for photo_id in photo_ids))
        return [meta for meta in found if meta is not None]

    async def of_ticket(self, ticket_id: str) -> list[str]:
        """The ids of the photos given to the ticket, in upload order."""
        try:
            entry = await self.index.get(f"ticket.{ticket_id}")
        except KeyNotFoundError:
            return []
        return TicketPhotos.model_validate_json(entry.value or b"{}").photo_ids

    async def read(self, meta: PhotoMeta, *, thumb: bool = False) -> bytes | None:
        name = f"{meta.photo_id}.thumb" if thumb else meta.photo_id
        try:
            result = await self.buckets[meta.purpose].get(name)
        except ObjectNotFoundError:
            return None
        return result.data or b""

    async def reused_from(self, ticket_id: str, sha256: str) -> str | None:
        """The ticket an evidence photo with this content hash would be flagged against."""
        try:
            entry = await self.index.get(f"sha.{sha256}")
        except KeyNotFoundError:
            return None
        first = FirstSeen.model_validate_json(entry.value or b"{}")
        return reuse_of(first, ticket_id, Purpose.EVIDENCE)
