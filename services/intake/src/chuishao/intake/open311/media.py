"""A photo sent with an Open311 request, as its clients send it: a multipart `media` file
beside the form's fields. It goes to the photo store as the report's photo; the request's
`media_urls` gain its URL, and the answer's `media_url` is that URL signed for the
request's ticket (the resident link's token), which the client can show at once."""

from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from chuishao.common.errors import ApiError
from chuishao.common.photos import Normalised, Purpose
from chuishao.intake.http_errors import OPEN311_UNREADABLE
from chuishao.intake.open311.rendering import Open311Error
from chuishao.intake.photo_links import (
    PHOTOS_UNAVAILABLE,
    check_length,
    photo_url,
    photos_of,
    read_upload,
    resident_url,
)
from chuishao.intake.service import Intake

UNAVAILABLE = "照片库暂时无法访问，请稍后重试 / the photo store cannot be reached; retry"


def refused(error: ApiError) -> Open311Error:
    """The photo store's refusal (413, 415, 422) in Open311's error list, Chinese first."""
    return Open311Error(error.status, f"{error.detail.message_zh} / {error.detail.message_en}")


def check_size(request: Request) -> None:
    try:
        check_length(request, photos_of(request).limits)
    except ApiError as error:
        raise refused(error) from error


async def form_of(request: Request) -> Any:
    """The request's form; a multipart body it cannot take (more than the one `media`
    file, or broken framing) is Open311's 400."""
    try:
        return await request.form(max_files=1)
    except HTTPException as error:  # Starlette's answer to a MultiPartException
        reason = str(error.detail).rstrip(".")
        raise Open311Error(400, OPEN311_UNREADABLE.format(reason=reason)) from error


async def photo_of(request: Request, form: Any) -> Normalised | None:
    """The form's `media` file made safe, or None when it has none."""
    upload = form.get("media")
    if not isinstance(upload, UploadFile):
        return None
    photos = photos_of(request)
    try:
        data = await read_upload(upload, photos.limits)
        return await photos.store.normalise(data)
    except ApiError as error:
        raise refused(error) from error


@dataclass
class Attached:
    """Stores the photo once the ticket has its id (Intake.submit's `media`)."""

    request: Request
    intake: Intake
    photo: Normalised
    client: str
    photo_id: str | None = field(default=None)

    async def __call__(self, ticket_id: str) -> tuple[str, ...]:
        try:
            meta = await photos_of(self.request).store.put(
                ticket_id,
                self.photo,
                Purpose.REPORT,
                uploaded_by=f"open311:{self.client}",
                now=self.intake.clock.now(),
            )
        except PHOTOS_UNAVAILABLE as error:  # before the report is stored: retry it whole
            raise Open311Error(503, UNAVAILABLE) from error
        self.photo_id = meta.photo_id
        return (photo_url(self.request, ticket_id, meta.photo_id),)

    def media_url(self, ticket_id: str) -> str | None:
        if self.photo_id is None:  # a repeat of an earlier request: that one's photo stands
            return None
        return resident_url(self.request, self.intake, ticket_id, self.photo_id)
