"""Which photos of the store belong to a ticket, who may see them, and their URLs.

A photo's URL is `/api/v1/tickets/<ticket>/photos/<photo>`: the ticket in the path is
the one the caller may see, the store's index says which ticket the photo was given to,
and intake serves it only when that ticket is this one or joined to it (a linked report's,
the ticket it joined). Tickets hold these URLs in `media_urls` and in their evidence like
any other photo URL: no event schema changed. A resident's link gets the same URLs under
their own ticket, carrying the link's token.
"""

from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode

import structlog
from fastapi import Request
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from starlette.datastructures import UploadFile

from chuishao.common.errors import ApiError
from chuishao.common.photos import PHOTO_PATH, Limits, PhotoMeta, PhotoStore
from chuishao.common.photos.images import too_large
from chuishao.common.tokens import resident_token
from chuishao.intake.records import TicketRecord
from chuishao.intake.views import PhotoView, ResidentPhoto, ResidentTicketView, TicketView

if TYPE_CHECKING:
    from chuishao.intake.service import Intake

log = structlog.get_logger()
PHOTOS_UNAVAILABLE = (TimeoutError, NatsError)
# Multipart framing and the other form fields, on top of the photo itself.
FORM_ALLOWANCE = 256 * 1024
READ_CHUNK = 256 * 1024


class Photos:
    """The store, opened at start-up (it lives in JetStream)."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._store: PhotoStore | None = None

    async def open(self, js: JetStreamContext, replicas: int) -> None:
        self._store = await PhotoStore.open(js, self.limits, replicas=replicas)

    @property
    def store(self) -> PhotoStore:
        if self._store is None:
            raise ApiError(
                503,
                "starting",
                "服务正在启动（照片库尚未打开），请稍后重试",
                "Intake is starting (the photo store is not open yet); retry shortly",
                headers={"Retry-After": "2"},
            )
        return self._store


def photos_of(request: Request) -> Photos:
    photos: Photos = request.app.state.photos
    return photos


def photo_ids(urls: Iterable[str | None]) -> list[str]:
    """The store's photo ids among these URLs, in order, once each."""
    found = (PHOTO_PATH.search(url) for url in urls if url)
    return list(dict.fromkeys(match.group(2) for match in found if match))


def referenced(record: TicketRecord) -> list[str]:
    """Every photo URL the record holds: the report's, the linked reports', the evidence."""
    urls: list[str] = [*record.media_urls]
    for linked in record.linked_details:
        urls += linked.media_urls
    for sign_off in record.sign_offs:
        urls += sign_off.evidence_urls
    if record.resolution is not None:
        urls += record.resolution.evidence_urls
        for sign_off in record.resolution.sign_offs:
            urls += sign_off.evidence_urls
    return photo_ids(urls)


def related(record: TicketRecord) -> set[str]:
    """The tickets whose photos may be shown on this one."""
    tickets = {record.ticket_id, *record.linked_reports}
    if record.linked_to is not None:
        tickets.add(record.linked_to)
    return tickets


def belongs(meta: PhotoMeta | None, record: TicketRecord) -> bool:
    return meta is not None and meta.ticket_id in related(record)


def photo_url(request: Request, ticket_id: str, photo_id: str, **params: str) -> str:
    """The `get_photo` route's absolute URL. Built here, not by `url_for`, which walks
    every route and cost more than the rest of a ticket's answer."""
    base = str(request.base_url).rstrip("/")
    url = f"{base}/api/v1/tickets/{quote(ticket_id, safe='')}/photos/{photo_id}"
    return f"{url}?{urlencode(params)}" if params else url


async def full_photos(request: Request, record: TicketRecord) -> list[PhotoView]:
    """The photos of a ticket for units, supervisors and operators: those its record
    refers to and those uploaded to it (evidence not yet signed off with)."""
    store = photos_of(request).store
    ids = list(dict.fromkeys([*referenced(record), *await store.of_ticket(record.ticket_id)]))
    views = []
    for meta in await store.metas(ids):
        reused_from = meta.reused_from
        where = record.ticket_id
        if not belongs(meta, record):
            # Another ticket's photo named in this one's evidence: shown only as the flag
            # (its URL under its own ticket opens for whoever may see that one).
            reused_from = where = meta.ticket_id
        views.append(
            PhotoView(
                photo_id=meta.photo_id,
                ticket_id=meta.ticket_id,
                purpose=meta.purpose.value,
                url=photo_url(request, where, meta.photo_id),
                thumb_url=photo_url(request, where, meta.photo_id, thumb="1"),
                content_type=meta.content_type,
                width=meta.width,
                height=meta.height,
                captured_at=meta.captured_at,
                uploaded_at=meta.uploaded_at,
                uploaded_by=meta.uploaded_by,
                sha256=meta.sha256,
                reused_from=reused_from,
            )
        )
    return views


async def with_full_photos(request: Request, view: TicketView, record: TicketRecord) -> TicketView:
    try:
        photos = await full_photos(request, record)
    except PHOTOS_UNAVAILABLE as error:
        # The answer to a command that was carried out must not fail for a photo list.
        log.warning("photo_index_unavailable", ticket_id=record.ticket_id, error=repr(error))
        return view
    return view.model_copy(update={"photos": photos})


def resident_url(
    request: Request, intake: "Intake", ticket_id: str, photo_id: str, *, thumb: bool = False
) -> str:
    """A photo URL signed for the resident's ticket: it carries the link's token."""
    token = resident_token(intake.keys.resident_secret, ticket_id)
    params = {"token": token, **({"thumb": "1"} if thumb else {})}
    return photo_url(request, ticket_id, photo_id, **params)


async def with_resident_photos(
    request: Request, intake: "Intake", view: ResidentTicketView, own: TicketRecord
) -> ResidentTicketView:
    """The resident's view with every store photo it shows (their own report's, the
    evidence) under their own ticket and token; nothing else of the store. EXIF was
    stripped at upload; the capture time and the rest of the metadata stay internal."""
    try:
        return await _resident_photos(request, intake, view, own)
    except PHOTOS_UNAVAILABLE as error:
        log.warning("photo_index_unavailable", ticket_id=own.ticket_id, error=repr(error))
        return view


async def _resident_photos(
    request: Request, intake: "Intake", view: ResidentTicketView, own: TicketRecord
) -> ResidentTicketView:
    store = photos_of(request).store
    mine = {own.ticket_id, *([own.linked_to] if own.linked_to else [])}
    urls = [*view.media_urls, *(entry.media_url for entry in view.timeline)]
    if view.resolution is not None:
        urls += view.resolution.evidence_urls
    uploaded = await store.of_ticket(own.ticket_id)
    in_view = photo_ids(urls)
    metas = await store.metas(list(dict.fromkeys([*in_view, *uploaded])))
    shown: dict[str, ResidentPhoto] = {}
    for meta in metas:
        photo_id = meta.photo_id
        # What the view shows (their report's photos, the evidence), from their ticket or
        # the one it joined; of the rest uploaded to their ticket, only report photos
        # (evidence shows once a unit signs off with it).
        if (photo_id in in_view and meta.ticket_id in mine) or (
            meta.ticket_id == own.ticket_id and meta.purpose == "report"
        ):
            shown[photo_id] = ResidentPhoto(
                photo_id=photo_id,
                purpose=meta.purpose.value,
                url=resident_url(request, intake, own.ticket_id, photo_id),
                thumb_url=resident_url(request, intake, own.ticket_id, photo_id, thumb=True),
            )

    def signed(url: str) -> str:
        match = PHOTO_PATH.search(url)
        return shown[match.group(2)].url if match and match.group(2) in shown else url

    def signed_all(urls: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(signed(url) for url in urls)

    resolution = view.resolution
    if resolution is not None:
        resolution = resolution.model_copy(
            update={
                "evidence_urls": signed_all(resolution.evidence_urls),
                "sign_offs": [
                    s.model_copy(update={"evidence_urls": signed_all(s.evidence_urls)})
                    for s in resolution.sign_offs
                ],
            }
        )
    timeline = [
        e.model_copy(update={"media_url": signed(e.media_url)}) if e.media_url else e
        for e in view.timeline
    ]
    return view.model_copy(
        update={
            "media_urls": signed_all(view.media_urls),
            "timeline": timeline,
            "resolution": resolution,
            "photos": list(shown.values()),
        }
    )


def check_length(request: Request, limits: Limits) -> None:
    """413 from the Content-Length alone, before a byte of an oversize upload is read."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limits.max_bytes + FORM_ALLOWANCE:
        raise too_large(limits)


async def read_upload(upload: UploadFile, limits: Limits) -> bytes:
    """The file's bytes, refused (413) as soon as they pass the limit."""
    chunks: list[bytes] = []
    total = 0
    while chunk := await upload.read(READ_CHUNK):
        total += len(chunk)
        if total > limits.max_bytes:
            raise too_large(limits)
        chunks.append(chunk)
    return b"".join(chunks)
