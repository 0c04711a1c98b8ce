"""Photos in the console: read through intake as the person at the screen, uploaded to
intake's photo store from the ticket page.

    GET  /photos/<ticket>/<photo>[?thumb=1]   the photo (or its thumbnail), proxied
    POST /tickets/<ticket>/photos             an upload (form field `photo`, CSRF-checked)

The console keeps no photo: every read asks intake with the person's token, so a photo of
a ticket outside the person's scope — or a guessed id — is intake's 404, as for a missing
ticket. Intake stripped the EXIF at upload; these bytes are what it serves.
"""

import re
from collections.abc import Awaitable
from typing import Any

import httpx
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.datastructures import UploadFile

from chuishao.common.errors import ApiError
from chuishao.common.photos import Limits, is_photo_id, photo_in
from chuishao.common.photos.images import too_large
from chuishao.console.auth import CurrentPerson, Person, check_csrf, console_of
from chuishao.console.intake_client import refusal, unreachable

router = APIRouter()
TICKET_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# The console's own cap, so it never buffers more than intake would take (intake decides).
LIMITS = Limits()
READ_CHUNK = 256 * 1024
PASSED_ON = ("content-type", "cache-control", "content-disposition", "x-content-type-options")


def photo_src(url: str, *, thumb: bool = False) -> str:
    """The console's URL of a photo intake holds (a ticket's `media_urls` or evidence);
    any other URL unchanged."""
    found = photo_in(url)
    if found is None:
        return url
    ticket_id, photo_id = found
    return f"/photos/{ticket_id}/{photo_id}" + ("?thumb=1" if thumb else "")


def not_found() -> ApiError:
    return ApiError(
        404,
        "photo_not_found",
        "没有找到这张照片，请从工单页面打开",
        "No such photo; open photos from the ticket's page",
    )


async def read_photo(upload: UploadFile) -> bytes:
    """An upload's bytes, refused (413) past the store's size without reading on."""
    chunks: list[bytes] = []
    total = 0
    while chunk := await upload.read(READ_CHUNK):
        total += len(chunk)
        if total > LIMITS.max_bytes:
            raise too_large(LIMITS)
        chunks.append(chunk)
    return b"".join(chunks)


async def send(
    request: Request, person: Person, ticket_id: str, upload: UploadFile, purpose: str
) -> dict[str, Any]:
    """Upload a photo to intake for this ticket as the person; intake's answer (photo_id,
    url, thumb_url, reused_from …) or IntakeError / ApiError (413) in the one shape."""
    if not TICKET_ID.match(ticket_id):
        raise not_found()
    data = await read_photo(upload)
    files = {"photo": (upload.filename or "photo", data, "application/octet-stream")}
    answer: dict[str, Any] = await console_of(request).intake.post(
        f"/api/v1/tickets/{ticket_id}/photos", person, files=files, data={"purpose": purpose}
    )
    return answer


async def upload_evidence(
    request: Request, person: Person, ticket_id: str, upload: UploadFile
) -> str:
    """Store an evidence photo for the sign-off (办结); its intake URL, for `evidence_urls`."""
    answer = await send(request, person, ticket_id, upload, "evidence")
    return str(answer["url"])


@router.get("/photos/{ticket_id}/{photo_id}")
async def photo(
    ticket_id: str, photo_id: str, request: Request, person: CurrentPerson, thumb: bool = False
) -> Response:
    if not TICKET_ID.match(ticket_id) or not is_photo_id(photo_id):
        raise not_found()
    client = console_of(request).intake
    return await proxied(
        client.raw(
            f"/api/v1/tickets/{ticket_id}/photos/{photo_id}",
            person,
            params={"thumb": "1"} if thumb else None,
        )
    )


async def proxied(fetch: Awaitable[httpx.Response]) -> Response:
    """Intake's photo as the console's answer (its refusal in the one shape)."""
    try:
        answer = await fetch
    except httpx.HTTPError as error:
        raise unreachable() from error
    if answer.status_code != 200:
        raise refusal(answer)
    headers = {k: v for k, v in answer.headers.items() if k.lower() in PASSED_ON}
    return Response(answer.content, status_code=200, headers=headers)


@router.post("/tickets/{ticket_id}/photos", dependencies=[Depends(check_csrf)])
async def upload(ticket_id: str, request: Request, person: CurrentPerson) -> Response:
    """A form post from the ticket page (back to it), or a script's (JSON answer with the
    console's URLs of the photo)."""
    form = await request.form()
    sent = form.get("photo")
    if not isinstance(sent, UploadFile) or not sent.filename:
        raise ApiError(
            422,
            "photo_required",
            "请选择一张照片再上传",
            "Choose a photo to upload",
            field="photo",
        )
    purpose = form.get("purpose")
    answer = await send(
        request, person, ticket_id, sent, purpose if isinstance(purpose, str) else "evidence"
    )
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse(
            {
                **answer,
                "src": photo_src(str(answer["url"])),
                "thumb_src": photo_src(str(answer["url"]), thumb=True),
            },
            status_code=201,
        )
    return RedirectResponse(f"/tickets/{ticket_id}#photos", status_code=303)
