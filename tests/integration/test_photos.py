"""The photo store through intake: uploads accepted by content, EXIF stripped from what is
stored and served, thumbnails, re-used evidence flagged, photos served only to whoever may
see the ticket, Open311's multipart `media`, and evidence on the resident's link."""

import io
import secrets
from typing import Any

import httpx
from PIL import ExifTags, Image, PngImagePlugin

from chuishao.common.streams import PHOTO_INDEX
from support.intake import OPERATOR, Harness, auth, open311_form, resident_link_token

GRID = "grid-heyuan"
OTHER = "bus-yunxi"  # a unit not summoned to the tickets below
GPS, MAKE, MODEL, ORIENTATION = 0x8825, 271, 272, 274
CAPTURED = "2026-11-30T08:15:00+08:00"


def jpeg_with_gps(colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A phone photo: GPS position, make and model, capture time, rotated by EXIF."""
    image = Image.new("RGB", (800, 600), colour)
    image.paste((20, 20, 220), (0, 0, 400, 100))  # a mark to see the orientation by
    exif = Image.Exif()
    exif[MAKE], exif[MODEL], exif[ORIENTATION] = "Apple", "iPhone 15", 6
    exif[ExifTags.IFD.GPSInfo] = {1: "N", 2: (39.0, 54.0, 31.2), 3: "E", 4: (116.0, 23.0, 51.0)}
    exif[ExifTags.IFD.Exif] = {36867: "2026:11:30 08:15:00", 36881: "+08:00"}
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def picture(fmt: str, *, text: str | None = None, size: tuple[int, int] = (640, 480)) -> bytes:
    image = Image.effect_noise(size, 40).convert("RGB")  # its own pixels each call
    out = io.BytesIO()
    if text is not None:
        info = PngImagePlugin.PngInfo()
        info.add_text("Comment", text)
        image.save(out, fmt, pnginfo=info)
    else:
        image.save(out, fmt)
    return out.getvalue()


def no_metadata(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    exif = image.getexif()
    assert GPS not in exif, dict(exif)
    assert MAKE not in exif, dict(exif)
    assert MODEL not in exif, dict(exif)
    assert not exif.get_ifd(GPS)
    assert "exif" not in image.info
    assert "xmp" not in image.info
    return image


async def summoned(intake: Harness, **report: Any) -> str:
    ticket_id = await intake.submit(**report)
    await intake.dispatch(ticket_id, GRID)
    return ticket_id


async def upload(
    intake: Harness,
    ticket_id: str,
    data: bytes,
    name: str = "photo.jpg",
    *,
    who: dict[str, str] | None = None,
    purpose: str | None = None,
) -> httpx.Response:
    return await intake.http.post(
        f"/api/v1/tickets/{ticket_id}/photos",
        files={"photo": (name, data, "image/jpeg")},
        data={"purpose": purpose} if purpose else {},
        headers=who if who is not None else auth(GRID),
    )


async def uploaded(
    intake: Harness,
    ticket_id: str,
    data: bytes,
    name: str = "photo.jpg",
    purpose: str | None = None,
) -> dict[str, Any]:
    response = await upload(intake, ticket_id, data, name, purpose=purpose)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_a_file_that_is_not_an_image_is_refused_whatever_its_name(intake: Harness) -> None:
    ticket_id = await summoned(intake)
    for name, data in (("evidence.jpg", b"%PDF-1.7 not a photo" * 50), ("a.gif", b"GIF89a" * 9)):
        response = await upload(intake, ticket_id, data, name=name)
        assert response.status_code == 415, response.text
        error = response.json()["error"]
        assert error["code"] == "not_an_image"
        assert "JPEG" in error["message_zh"]
        assert error["field"] == "photo"
    broken = jpeg_with_gps()[:2000]
    response = await upload(intake, ticket_id, broken)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "broken_image"
    two = [("photo", ("a.jpg", jpeg_with_gps(), "image/jpeg"))] * 2
    response = await intake.http.post(
        f"/api/v1/tickets/{ticket_id}/photos", files=two, headers=auth(GRID)
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "bad_upload"
    assert (await intake.ticket(ticket_id))["photos"] == []


async def test_an_oversize_file_or_a_decompression_bomb_is_refused(intake: Harness) -> None:
    ticket_id = await summoned(intake)
    huge = b"\xff\xd8\xff\xe0" + secrets.token_bytes(11 * 1024 * 1024)
    response = await upload(intake, ticket_id, huge)
    assert response.status_code == 413, response.text
    assert response.json()["error"]["code"] == "photo_too_large"
    assert "10 MB" in response.json()["error"]["message_zh"]
    # 12 KB on the wire, 100 megapixels once decoded: refused from its header.
    bomb = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(bomb, "PNG")
    response = await upload(intake, ticket_id, bomb.getvalue(), name="bomb.png")
    assert response.status_code == 413, response.text
    assert response.json()["error"]["code"] == "photo_too_many_pixels"


async def test_a_jpeg_with_gps_is_stored_and_served_without_its_exif(intake: Harness) -> None:
    ticket_id = await summoned(intake)
    photo = await uploaded(intake, ticket_id, jpeg_with_gps())
    assert photo["purpose"] == "evidence"
    assert photo["reused_from"] is None
    assert len(photo["photo_id"]) == 32  # 128 random bits
    served = await intake.http.get(photo["url"], headers=auth(GRID))
    assert served.status_code == 200, served.text
    assert served.headers["content-type"] == "image/jpeg"
    assert served.headers["cache-control"].startswith("private")
    image = no_metadata(served.content)
    assert image.size == (600, 800)  # EXIF orientation 6 applied, then dropped
    # What JetStream holds is the stripped copy too.
    store = await intake.js.object_store("photos-evidence")
    no_metadata((await store.get(photo["photo_id"])).data or b"")
    # The capture time is kept, as evidence metadata, for the units and supervisors.
    full = await intake.ticket(ticket_id)
    [shown] = full["photos"]
    assert shown["captured_at"] == CAPTURED
    assert shown["photo_id"] == photo["photo_id"]
    index = await intake.js.key_value(PHOTO_INDEX.bucket or "")
    assert CAPTURED.encode() in ((await index.get(f"photo.{photo['photo_id']}")).value or b"")
    # The thumbnail: small WebP, no metadata either.
    thumb = await intake.http.get(photo["thumb_url"], headers=auth(GRID))
    assert thumb.status_code == 200
    assert thumb.headers["content-type"] == "image/webp"
    small = no_metadata(thumb.content)
    assert small.format == "WEBP"
    assert max(small.size) == 320


async def test_png_and_webp_are_accepted_by_content(intake: Harness) -> None:
    ticket_id = await summoned(intake)
    png = await uploaded(intake, ticket_id, picture("PNG"), name="a.png")
    webp = await uploaded(intake, ticket_id, picture("WEBP"), name="no-extension")
    for photo in (png, webp):
        assert (photo["width"], photo["height"]) == (640, 480)
        served = await intake.http.get(photo["url"], headers=auth(GRID))
        assert Image.open(io.BytesIO(served.content)).size == (640, 480)
        thumb = await intake.http.get(photo["thumb_url"], headers=auth(GRID))
        assert Image.open(io.BytesIO(thumb.content)).size == (320, 240)
    ids = [p["photo_id"] for p in (await intake.ticket(ticket_id))["photos"]]
    assert ids == [png["photo_id"], webp["photo_id"]]


async def test_the_same_picture_as_evidence_on_another_ticket_is_flagged(intake: Harness) -> None:
    first = await summoned(intake)
    second = await summoned(intake, location={"address": "和园小区 B-2", "grid_code": "HY-01"})
    data = picture("PNG")
    original = await uploaded(intake, first, data, name="fixed.png")
    assert original["reused_from"] is None
    # The same pixels with a different text chunk (metadata edited): still the same photo.
    image = Image.open(io.BytesIO(data))
    edited = io.BytesIO()
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "another day")
    image.save(edited, "PNG", pnginfo=info)
    assert edited.getvalue() != data
    again = await uploaded(intake, second, edited.getvalue(), name="fixed-again.png")
    assert again["reused_from"] == first
    [shown] = (await intake.ticket(second))["photos"]
    assert shown["reused_from"] == first
    # The resident's own photo of the problem, offered back as evidence: flagged too.
    problem = picture("PNG")
    reported = await uploaded(intake, first, problem, purpose="report")
    assert reported["purpose"] == "report"
    assert reported["reused_from"] is None
    assert (await uploaded(intake, first, problem))["reused_from"] == first
    # A new picture is not.
    assert (await uploaded(intake, second, picture("PNG")))["reused_from"] is None
    # The first ticket's evidence URL itself, signed off with on another ticket: flagged,
    # and still served only under its own ticket.
    third = await summoned(intake, location={"address": "和园小区 D-4", "grid_code": "HY-01"})
    assert (await intake.command(third, "acknowledge", auth(GRID))).status_code == 200
    body = {"note": "已修好", "evidence_urls": [original["url"]]}
    assert (await intake.command(third, "resolve", auth(GRID), body)).status_code == 200
    [borrowed] = (await intake.ticket(third))["photos"]
    assert borrowed["reused_from"] == first
    assert borrowed["url"] == original["url"]
    under_third = f"/api/v1/tickets/{third}/photos/{original['photo_id']}"
    assert (await intake.http.get(under_third, headers=auth(GRID))).status_code == 404


async def test_guessed_urls_and_other_units_tickets_answer_404(intake: Harness) -> None:
    mine = await summoned(intake)
    elsewhere = await summoned(intake, location={"address": "和园小区 C-3", "grid_code": "HY-01"})
    photo = await uploaded(intake, mine, jpeg_with_gps())
    pid = photo["photo_id"]
    missing_ticket = await intake.http.get("/api/v1/tickets/T20990101999999", headers=auth(OTHER))
    assert missing_ticket.status_code == 404
    # Another unit: the same 404 as for a ticket that does not exist, for photo and upload.
    for response in (
        await intake.http.get(photo["url"], headers=auth(OTHER)),
        await intake.http.get(photo["thumb_url"], headers=auth(OTHER)),
        await upload(intake, mine, jpeg_with_gps(), who=auth(OTHER)),
    ):
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == missing_ticket.json()["error"]["code"]
    # Guessed ids, malformed ids, and a real photo asked for under another ticket.
    for path in (
        f"/api/v1/tickets/{mine}/photos/{secrets.token_hex(16)}",
        f"/api/v1/tickets/{mine}/photos/..%2F..%2Fetc",
        f"/api/v1/tickets/{elsewhere}/photos/{pid}",
    ):
        response = await intake.http.get(path, headers=auth(GRID))
        assert response.status_code == 404, (path, response.text)
    # No credential at all: refused before anything is looked up.
    assert (await intake.http.get(photo["url"])).status_code == 401
    # The operators (city level) see it.
    assert (await intake.http.get(photo["url"], headers=OPERATOR)).status_code == 200


async def test_open311_multipart_media_is_kept_and_its_media_url_works(intake: Harness) -> None:
    form = open311_form("消防箱玻璃碎了", "39.9087", "116.3975", phone="13912345678")
    response = await intake.http.post(
        "/open311/v2/requests.json",
        data=form,
        files={"media": ("IMG_0001.HEIC.jpg", jpeg_with_gps(), "application/octet-stream")},
    )
    assert response.status_code == 201, response.text
    [row] = response.json()
    ticket_id, media_url = row["service_request_id"], row["media_url"]
    served = await intake.http.get(media_url)  # signed for the request's ticket
    assert served.status_code == 200, served.text
    assert no_metadata(served.content).size == (600, 800)
    full = await intake.ticket(ticket_id)
    [photo] = full["photos"]
    assert photo["purpose"] == "report"
    assert photo["captured_at"] == CAPTURED
    assert photo["url"] in full["media_urls"]
    # Refusals in Open311's own shape, Chinese first.
    bad = await intake.http.post(
        "/open311/v2/requests.json",
        data=form,
        files={"media": ("photo.jpg", b"not a photo at all" * 20, "image/jpeg")},
    )
    assert bad.status_code == 415, bad.text
    [error] = bad.json()
    assert error["code"] == 415
    assert error["description"].startswith("上传的文件不是")
    two = [("media", ("a.jpg", jpeg_with_gps(), "image/jpeg"))] * 2
    refused = await intake.http.post("/open311/v2/requests.json", data=form, files=two)
    assert refused.status_code == 400, refused.text
    assert refused.json()[0]["code"] == 400


async def test_the_residents_link_shows_the_evidence_photos(intake: Harness) -> None:
    ticket_id = await summoned(intake)
    evidence = await uploaded(intake, ticket_id, jpeg_with_gps((10, 160, 10)))
    unused = await uploaded(intake, ticket_id, picture("PNG"))
    link = {"token": resident_link_token(ticket_id)}
    # Before the sign-off the resident sees no evidence, and cannot open it.
    before = await intake.http.get(f"/api/v1/tickets/{ticket_id}", params=link)
    assert before.json()["photos"] == []
    refused = await intake.http.get(evidence["url"], params=link)
    assert refused.status_code == 404
    assert (await intake.command(ticket_id, "acknowledge", auth(GRID))).status_code == 200
    resolved = await intake.command(
        ticket_id, "resolve", auth(GRID), {"note": "已更换玻璃", "evidence_urls": [evidence["url"]]}
    )
    assert resolved.status_code == 200, resolved.text
    shown = (await intake.http.get(f"/api/v1/tickets/{ticket_id}", params=link)).json()
    assert shown["view"] == "resident"
    [photo] = shown["photos"]
    assert photo["photo_id"] == evidence["photo_id"]
    assert photo["purpose"] == "evidence"
    assert "captured_at" not in photo
    assert "sha256" not in photo
    [url] = shown["resolution"]["evidence_urls"]
    assert url == photo["url"]
    assert "token=" in url
    served = await httpx_get(intake, url)
    assert served.status_code == 200
    no_metadata(served.content)
    assert (await httpx_get(intake, photo["thumb_url"])).headers["content-type"] == "image/webp"
    # The evidence not signed off with stays internal; another ticket's token opens nothing.
    assert (await intake.http.get(unused["url"], params=link)).status_code == 404
    other = {"token": resident_link_token("T20990101999999")}
    assert (await intake.http.get(evidence["url"], params=other)).status_code == 403


async def httpx_get(intake: Harness, url: str) -> httpx.Response:
    return await intake.http.get(url)


async def test_a_linked_reports_photo_is_for_the_tickets_units_not_its_first_resident(
    intake: Harness,
) -> None:
    here = {"lat": 39.90870, "long": 116.39750, "address": "和园小区 A-160"}
    first = await summoned(intake, location=here)
    response = await intake.http.post(
        "/open311/v2/requests.json",
        # About 25 m away: the same problem.
        data=open311_form("我家门口消防箱坏了", "39.90870", "116.39780"),
        files={"media": ("door.jpg", jpeg_with_gps((5, 5, 5)), "image/jpeg")},
    )
    assert response.status_code == 201, response.text
    [row] = response.json()
    second = row["service_request_id"]
    lead = await intake.until(first, lambda t: second in t["linked_reports"] and t["photos"])
    [theirs] = lead["photos"]
    assert theirs["ticket_id"] == second
    # The first ticket's unit opens it under its own ticket.
    served = await intake.http.get(theirs["url"], headers=auth(GRID))
    assert served.status_code == 200, served.text
    # The first resident never sees the second resident's photo; the second sees their own.
    first_link = {"token": resident_link_token(first)}
    assert (await intake.http.get(f"/api/v1/tickets/{first}", params=first_link)).json()[
        "photos"
    ] == []
    assert (await intake.http.get(theirs["url"], params=first_link)).status_code == 404
    own = {"token": resident_link_token(second)}
    mine = (await intake.http.get(f"/api/v1/tickets/{second}", params=own)).json()["photos"]
    assert [p["photo_id"] for p in mine] == [theirs["photo_id"]]
    assert (await intake.http.get(row["media_url"])).status_code == 200
    # A resident may add a photo of the problem to their own report (never evidence).
    added = await intake.http.post(
        f"/api/v1/tickets/{second}/photos",
        params=own,
        files={"photo": ("more.png", picture("PNG"), "image/png")},
        data={"purpose": "evidence"},
    )
    assert added.status_code == 201, added.text
    assert added.json()["purpose"] == "report"
    assert "token=" in added.json()["url"]
    mine = (await intake.http.get(f"/api/v1/tickets/{second}", params=own)).json()["photos"]
    assert len(mine) == 2
