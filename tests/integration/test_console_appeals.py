"""Appeals (申诉) in the console over a real intake (in-process, real NATS and Redis): the
clerk appeals an unsatisfied rating from the ticket page with a reason and a photo; the
co-unit on the same ticket sees no trace of it and has no 申诉审核; the street's command
centre reads it and cannot decide it; the district upholds it once, and a second
decision is refused on the page with intake's message."""

import io
import re
from collections.abc import AsyncIterator

import pytest
from PIL import Image

from chuishao.common.domain import Whistle
from chuishao.common.places import publish_places
from chuishao.common.roles import PersonRole
from support.console import ConsoleHarness, running_console
from support.intake import OPERATOR, Harness, auth
from support.servers import Servers

HTML = {"Accept": "text/html"}
GRID, BUS = "grid-heyuan", "bus-yunxi"


@pytest.fixture
async def console(servers: Servers, intake: Harness) -> AsyncIterator[ConsoleHarness]:
    await publish_places(intake.js, [])
    async with running_console(servers.nats_url, servers.redis_url, intake.app) as harness:
        await harness.account("wang", PersonRole.CLERK, GRID)
        await harness.account("zhao", PersonRole.CLERK, BUS)
        await harness.account("jie", PersonRole.COMMAND_CENTRE, "qingshi")
        await harness.account("qu", PersonRole.DISTRICT, "yunxi")
        yield harness


def photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 90, 90)).save(out, "JPEG")
    return out.getvalue()


async def as_person(console: ConsoleHarness, username: str) -> None:
    console.http.cookies.clear()  # another person at the screen: a fresh session
    assert (await console.login(username)).status_code == 303


async def csrf(console: ConsoleHarness, path: str) -> str:
    html = (await console.http.get(path, headers=HTML)).text
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html[:300]
    return found.group(1)


async def unsatisfied(intake: Harness) -> str:
    """A coordination ticket both units handled, rated 不满意 (reopened)."""
    ticket_id = await intake.submit()
    await intake.dispatch(ticket_id, GRID, BUS, whistle=Whistle.COORDINATION)
    for verb, body in (("acknowledge", None), ("resolve", {"note": "已修复"})):
        for unit in (GRID, BUS):
            assert (await intake.command(ticket_id, verb, auth(unit), body)).status_code == 200
    rated = await intake.command(ticket_id, "rating", OPERATOR, {"rating": "unsatisfied"})
    assert rated.status_code == 200, rated.text
    return ticket_id


async def test_a_clerk_appeals_and_the_district_upholds_it(
    intake: Harness, console: ConsoleHarness
) -> None:
    ticket_id = await unsatisfied(intake)
    await as_person(console, "wang")
    page = (await console.http.get(f"/tickets/{ticket_id}", headers=HTML)).text
    assert 'id="appeal-box"' in page
    assert '<option value="rating">不满意评价</option>' in page
    assert '<option value="decline">' not in page  # it never returned the ticket
    filed = await console.http.post(
        f"/tickets/{ticket_id}/appeal",
        data={
            "subject": "rating",
            "reason": "居民不满意的是供暖，与消防箱无关",
            "csrf_token": await csrf(console, f"/tickets/{ticket_id}"),
        },
        files={"photos": ("scene.jpg", photo(), "image/jpeg")},
        headers=HTML,
        follow_redirects=True,
    )
    assert filed.status_code == 200, filed.text[:500]
    assert "申诉已提交" in filed.text
    assert "待审核" in filed.text
    assert re.search(r'alt="申诉证据 1"', filed.text)
    [appeal] = (await intake.ticket(ticket_id))["appeals"]
    assert appeal["filed_by"] == "wang"
    assert len(appeal["evidence_urls"]) == 1
    assert (await console.http.get("/appeals", headers=HTML)).status_code == 403

    # The co-unit reads the ticket but not GRID's appeal, and has no 申诉审核.
    await as_person(console, "zhao")
    theirs = (await console.http.get(f"/tickets/{ticket_id}", headers=HTML)).text
    assert "居民不满意的是供暖" not in theirs
    assert "data-appeal=" not in theirs
    assert (await console.http.get("/appeals", headers=HTML)).status_code == 403

    # The street's command centre reads it, without a decision form; posting one is 403.
    await as_person(console, "jie")
    street = (await console.http.get("/appeals", headers=HTML)).text
    assert "居民不满意的是供暖" in street
    assert 'action="/appeals/decide"' not in street
    decision = {"ticket_id": ticket_id, "appeal_id": appeal["appeal_id"], "outcome": "upheld"}
    refused = await console.http.post(
        "/appeals/decide",
        data=decision | {"csrf_token": await csrf(console, "/appeals")},
        headers=HTML,
    )
    assert refused.status_code == 403

    # The district: pending first, upheld once; a second decision is refused on the page.
    await as_person(console, "qu")
    listing = (await console.http.get("/appeals", headers=HTML)).text
    assert 'data-count="pending">1<' in listing
    assert 'action="/appeals/decide"' in listing
    token = await csrf(console, "/appeals")
    upheld = await console.http.post(
        "/appeals/decide",
        data=decision | {"note": "核实属实", "csrf_token": token},
        headers=HTML,
        follow_redirects=True,
    )
    assert upheld.status_code == 200
    assert "已支持申诉" in upheld.text
    assert 'id="none-pending"' in upheld.text
    assert "已支持（免责）" in upheld.text
    again = await console.http.post(
        "/appeals/decide",
        data=decision | {"outcome": "rejected", "csrf_token": token},
        headers=HTML,
    )
    assert again.status_code == 409
    assert 'id="refusal" data-code="illegal_transition"' in again.text
    assert "已经审核过" in again.text
    assert (await intake.ticket(ticket_id))["appeals"][0]["outcome"] == "upheld"
