"""The photo routes of the native API: upload a photo to a ticket, and read one back.

Both are scoped like the ticket's other actions: a ticket the caller may not see answers
the same 404 as a ticket that does not exist, and so does a photo id that is not the
ticket's (a guessed one included). The console proxies these routes for the person at the
screen (chuishao.console.web.photos)."""

from typing import Any

import structlog
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException

from chuishao.common.errors import ApiError, ErrorResponse
from chuishao.common.photos import Purpose, is_photo_id
from chuishao.intake.api import AUTH_RESPONSES, Caller, intake_of, rejected, shown
from chuishao.intake.lifecycle import Actor, CommandRejected
from chuishao.intake.photo_links import (
    PHOTOS_UNAVAILABLE,
    belongs,
    check_length,
    photo_url,
    photos_of,
    read_upload,
    resident_url,
)
from chuishao.intake.views import ResidentTicketView

log = structlog.get_logger()
router = APIRouter(prefix="/api/v1", tags=["photos"])
IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp")


class PhotoUploaded(BaseModel):
    photo_id: str
    ticket_id: str
    purpose: Purpose
    url: str
    thumb_url: str
    content_type: str
    width: int
    height: int
    reused_from: str | None = None


def photo_not_found() -> ApiError:
    return ApiError(
        404,
        "photo_not_found",
        "这张工单没有这张照片，请从工单页面打开照片",
        "This ticket has no such photo; open photos from the ticket's page",
    )


def store_unavailable() -> ApiError:
    return ApiError(
        503,
        "photo_store_unavailable",
        "照片库暂时无法访问，请稍后重试",
        "The photo store cannot be reached just now; retry shortly",
        headers={"Retry-After": "5"},
    )


def _purpose(actor: Actor, asked: object) -> Purpose:
    """Units and supervisors upload evidence by default, operators and residents report
    photos; a resident's link uploads report photos only."""
    if actor.kind == "resident":
        return Purpose.REPORT
    if asked in (None, ""):
        return Purpose.EVIDENCE if actor.kind in ("unit", "supervisor") else Purpose.REPORT
    try:
        return Purpose(str(asked))
    except ValueError as error:
        raise ApiError(
            422,
            "invalid_purpose",
            "purpose 只能是 evidence（办结佐证）或 report（问题照片）",
            "purpose is evidence or report",
            field="purpose",
        ) from error


MULTIPART: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["photo"],
                    "properties": {
                        "photo": {
                            "type": "string",
                            "format": "binary",
                            "description": "JPEG, PNG, WebP or HEIC, by content; at most "
                            "CHUISHAO_PHOTO_MAX_BYTES (10 MB)",
                        },
                        "purpose": {"type": "string", "enum": ["evidence", "report"]},
                    },
                }
            }
        },
    }
}


@router.post(
    "/tickets/{ticket_id}/photos",
    status_code=201,
    response_model=PhotoUploaded,
    summary="Upload a photo to the ticket (evidence or report)",
    openapi_extra=MULTIPART,
    responses={
        **AUTH_RESPONSES,
        404: {"model": ErrorResponse, "description": "No such ticket"},
        413: {"model": ErrorResponse, "description": "Too large (bytes or pixels)"},
        415: {"model": ErrorResponse, "description": "Not a JPEG, PNG, WebP or HEIC image"},
        422: {"model": ErrorResponse, "description": "A damaged image, or no photo"},
    },
)
async def upload_photo(ticket_id: str, request: Request, actor: Caller) -> PhotoUploaded:
    """A photo for the ticket, stored without its EXIF (position, device), with a
    thumbnail. Sign off with its `url` in `evidence_urls` (办结). The answer says when the
    same picture was seen first on another ticket (`reused_from`)."""
    photos = photos_of(request)
    check_length(request, photos.limits)
    intake = intake_of(request)
    try:
        record = await intake.read(ticket_id, actor)
    except CommandRejected as error:
        raise rejected(error) from error
    try:
        form = await request.form(max_files=1, max_fields=8)
    except (MultiPartException, HTTPException) as error:  # Starlette turns one into the other
        raise ApiError(
            400,
            "bad_upload",
            "上传格式不正确：请用 multipart/form-data，照片放在 photo 字段",
            "Send multipart/form-data with the photo in the `photo` field",
            field="photo",
        ) from error
    upload = form.get("photo") or form.get("media")
    if not isinstance(upload, UploadFile):
        raise ApiError(
            422,
            "photo_required",
            "没有收到照片，请在 photo 字段上传一张照片",
            "No photo was sent; put one in the `photo` field",
            field="photo",
        )
    purpose = _purpose(actor, form.get("purpose"))
    # The console's person when there is one (the audit names people, not only units).
    by = f"{actor.kind}:{actor.id}" + (f":{actor.person}" if actor.person else "")
    data = await read_upload(upload, photos.limits)
    await form.close()
    normalised = await photos.store.normalise(data)
    try:
        meta = await photos.store.put(
            record.ticket_id, normalised, purpose, uploaded_by=by, now=intake.clock.now()
        )
    except PHOTOS_UNAVAILABLE as error:
        raise store_unavailable() from error
    log.info(
        "photo_uploaded",
        ticket_id=record.ticket_id,
        photo_id=meta.photo_id,
        purpose=purpose.value,
        by=by,
        reused_from=meta.reused_from,
    )
    if actor.kind == "resident":
        url = resident_url(request, intake, record.ticket_id, meta.photo_id)
        thumb = resident_url(request, intake, record.ticket_id, meta.photo_id, thumb=True)
    else:
        url = photo_url(request, record.ticket_id, meta.photo_id)
        thumb = photo_url(request, record.ticket_id, meta.photo_id, thumb="1")
    return PhotoUploaded(
        photo_id=meta.photo_id,
        ticket_id=record.ticket_id,
        purpose=purpose,
        url=url,
        thumb_url=thumb,
        content_type=meta.content_type,
        width=meta.width,
        height=meta.height,
        reused_from=meta.reused_from,
    )


@router.get(
    "/tickets/{ticket_id}/photos/{photo_id}",
    name="get_photo",
    response_class=Response,
    summary="A photo of the ticket (thumb=1: its thumbnail)",
    responses={
        200: {"content": {kind: {} for kind in IMAGE_TYPES}, "description": "The image"},
        **AUTH_RESPONSES,
        404: {"model": ErrorResponse, "description": "No such ticket or photo"},
    },
)
async def get_photo(
    ticket_id: str, photo_id: str, request: Request, actor: Caller, thumb: bool = False
) -> Response:
    """Served only to a caller who may see the ticket; a resident's link (`?token=`) only
    the photos its view shows. Never with EXIF: it was stripped at upload."""
    intake = intake_of(request)
    store = photos_of(request).store
    try:
        record = await intake.read(ticket_id, actor)
    except CommandRejected as error:
        raise rejected(error) from error
    try:
        meta = await store.meta(photo_id) if is_photo_id(photo_id) else None
    except PHOTOS_UNAVAILABLE as error:
        raise store_unavailable() from error
    if meta is None or not belongs(meta, record):
        raise photo_not_found()
    if actor.kind == "resident":
        view = await shown(intake, record, actor, request)
        if not isinstance(view, ResidentTicketView) or photo_id not in {
            photo.photo_id for photo in view.photos
        }:
            raise photo_not_found()
    try:
        data = await store.read(meta, thumb=thumb)
    except PHOTOS_UNAVAILABLE as error:
        raise store_unavailable() from error
    if data is None:
        raise photo_not_found()
    content_type = meta.thumb_type if thumb else meta.content_type
    extension = content_type.removeprefix("image/").replace("jpeg", "jpg")
    return Response(
        data,
        media_type=content_type,
        headers={
            # Authorised content: no shared cache may keep it.
            "Cache-Control": "private, max-age=3600",
            "X-Content-Type-Options": "nosniff",
            "Content-Disposition": f'inline; filename="{photo_id}.{extension}"',
        },
    )
