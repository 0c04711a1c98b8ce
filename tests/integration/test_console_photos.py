"""Photos through the console (chuishao.console.web.photos): a clerk uploads one from the
ticket page (CSRF-checked) and reads it back through the console's proxy, as themself;
another unit's clerk, a guessed id and a form without its CSRF token get nothing."""

import io
import re
import secrets
from collections.abc import AsyncIterator

import pytest
from PIL import ExifTags, Image

from chuishao.common.roles import PersonRole
from chuishao.console.web.photos import photo_src
from support.console import ConsoleHarness, running_console
from support.intake import Harness
from support.servers import Servers

GRID = "grid-heyuan"
JSON = {"Accept": "application/json"}


@pytest.fixture
async def console(servers: Servers, intake: Harness) -> AsyncIterator[ConsoleHarness]:
    async with running_console(servers.nats_url, servers.redis_url, intake.app) as harness:
        await harness.account("wang", PersonRole.CLERK, GRID)
        await harness.account("zhao", PersonRole.CLERK, "bus-yunxi")
        yield harness


def phone_photo() -> bytes:
    exif = Image.Exif()
    exif[271], exif[272] = "HUAWEI", "Mate 60"
    exif[ExifTags.IFD.GPSInfo] = {1: "N", 2: (39.0, 54.0, 31.2), 3: "E", 4: (116.0, 23.0, 51.0)}
    out = io.BytesIO()
    Image.new("RGB", (400, 300), (90, 90, 200)).save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


async def csrf(console: ConsoleHarness) -> str:
    html = (await console.http.get("/clerk", headers={"Accept": "text/html"})).text
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html[:300]
    return found.group(1)


async def test_a_clerk_uploads_and_reads_a_photo_through_the_console(
    console: ConsoleHarness, intake: Harness
) -> None:
    ticket_id = await intake.submit()
    await intake.dispatch(ticket_id, GRID)
    assert (await console.login("wang")).status_code in (200, 303)
    photo = {"photo": ("IMG_1.jpg", phone_photo(), "image/jpeg")}
    # Without the form's CSRF token: refused, nothing stored.
    forged = await console.http.post(f"/tickets/{ticket_id}/photos", files=photo, headers=JSON)
    assert forged.status_code == 403
    assert (await intake.ticket(ticket_id))["photos"] == []
    sent = await console.http.post(
        f"/tickets/{ticket_id}/photos",
        files=photo,
        data={"csrf_token": await csrf(console)},
        headers=JSON,
    )
    assert sent.status_code == 201, sent.text
    answer = sent.json()
    assert answer["src"] == f"/photos/{ticket_id}/{answer['photo_id']}"
    assert photo_src(answer["url"]) == answer["src"]
    assert photo_src("https://img.example/a.jpg") == "https://img.example/a.jpg"
    # Intake recorded the person, not only the console.
    [kept] = (await intake.ticket(ticket_id))["photos"]
    assert kept["purpose"] == "evidence"
    assert kept["uploaded_by"] == f"unit:{GRID}:wang"
    served = await console.http.get(answer["src"])
    assert served.status_code == 200, served.text
    assert served.headers["content-type"] == "image/jpeg"
    exif = Image.open(io.BytesIO(served.content)).getexif()
    assert 271 not in exif
    assert 0x8825 not in exif
    thumb = await console.http.get(answer["thumb_src"])
    assert thumb.headers["content-type"] == "image/webp"
    # A form post from the page goes back to it.
    again = await console.http.post(
        f"/tickets/{ticket_id}/photos",
        files={"photo": ("b.png", phone_photo(), "image/png")},
        data={"csrf_token": await csrf(console)},
    )
    assert again.status_code == 303
    assert again.headers["location"] == f"/tickets/{ticket_id}#photos"
    # Not an image: intake's refusal, in Chinese.
    bad = await console.http.post(
        f"/tickets/{ticket_id}/photos",
        files={"photo": ("c.jpg", b"not an image" * 40, "image/jpeg")},
        data={"csrf_token": await csrf(console)},
        headers=JSON,
    )
    assert bad.status_code == 415
    assert "JPEG" in bad.json()["error"]["message_zh"]
    # Another unit's clerk: the same 404 as a guessed id.
    await console.http.post("/logout", data={"csrf_token": await csrf(console)})
    assert (await console.login("zhao")).status_code in (200, 303)
    assert (await console.http.get(answer["src"])).status_code == 404
    guessed = f"/photos/{ticket_id}/{secrets.token_hex(16)}"
    assert (await console.http.get(guessed)).status_code == 404
    upload = await console.http.post(
        f"/tickets/{ticket_id}/photos",
        files=photo,
        data={"csrf_token": await csrf(console)},
        headers=JSON,
    )
    assert upload.status_code == 404
