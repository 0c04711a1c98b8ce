"""Issue 13, walked as people do: through the HTTP API of the running services (intake,
router, sla, notify, supervision as processes). The department and the resident get the
linked photos, every unit's resolution, their complaint, their Chinese rating; the
street command centre lists and assigns its manual queue over HTTP, recategorises a
waiting ticket into routing, and the clocks escalate what it leaves waiting."""

import asyncio
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from chuishao.common.clock import advance_shared_clock
from chuishao.common.tokens import hash_api_key
from chuishao.notify.channels.recorder import read_recorded
from support.intake import OPERATOR, auth, resident_link_token, settings_env, unit_key
from support.servers import Servers
from support.stack import ServiceProcesses, post_report_when_ready

pytestmark = pytest.mark.e2e

UNITS = (
    "grid-heyuan",
    "grid-taoyuan",
    "jiaojing-yunxi",
    "bus-yunxi",
    "jinhua-wuye",
    "qingshi-command",
    "district-yunxi",
    "cg-yunxi",
    "xiaofang-yunxi",
)
HEYUAN = {"lat": 39.905, "long": 116.395, "address": "和园小区 A-160"}
TIMEOUT = 30.0


@pytest.fixture(scope="module")
def stack(own_servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    env = {
        "CHUISHAO_UNIT_API_KEYS": json.dumps({hash_api_key(unit_key(u)): u for u in UNITS}),
        "CHUISHAO_CLOCK": "shared",
        # No quiet hours: the resident's messages are checked whatever the hour.
        "CHUISHAO_QUIET_HOURS_START": "00:00",
        "CHUISHAO_QUIET_HOURS_END": "00:00",
    }
    assert set(settings_env()) >= {"CHUISHAO_UNIT_API_KEYS"}
    log_dir: Path = tmp_path_factory.mktemp("walked-logs")
    with ServiceProcesses(own_servers.nats_url, own_servers.redis_url, log_dir, **env) as s:
        yield s


@pytest.fixture
async def http(stack: ServiceProcesses) -> Any:
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=10) as client:
        yield client


@pytest.fixture
async def redis(own_servers: Servers) -> Any:
    client = Redis.from_url(own_servers.redis_url)
    yield client
    await client.aclose()


async def submit(http: httpx.AsyncClient, **report: Any) -> dict[str, Any]:
    body = {
        "description": "A-160车位旁消防箱玻璃碎了",
        "location": HEYUAN,
        "channel": "snap_it",
        "reporter": {"phone": "13800138000"},
    } | report
    response = await post_report_when_ready(http, body, tries=300)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def until(
    http: httpx.AsyncClient,
    ticket_id: str,
    holds: Callable[[dict[str, Any]], bool],
    headers: dict[str, str] = OPERATOR,
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + TIMEOUT
    while True:
        response = await http.get(f"/api/v1/tickets/{ticket_id}", headers=headers)
        ticket = dict(response.json())
        if response.status_code == 200 and holds(ticket):
            return ticket
        assert asyncio.get_running_loop().time() < deadline, f"never held: {ticket}"
        await asyncio.sleep(0.1)


def units_of(ticket: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {a["unit_id"]: a for a in ticket["assignments"]}


async def test_a_linked_reports_photos_and_words_reach_the_lead_ticket_units(
    http: httpx.AsyncClient,
) -> None:
    first = await submit(http, category="fire_box")
    lead = first["ticket_id"]
    await until(http, lead, lambda t: "grid-heyuan" in units_of(t))
    photo = "https://img.example/a160-second.jpg"
    second = await submit(
        http,
        category="fire_box",
        description="消防箱玻璃碎了一地，小孩容易划伤",
        media_urls=[photo],
        location=HEYUAN | {"lat": 39.9051},
    )
    assert second["linked_to"] == lead
    ticket = await until(http, lead, lambda t: photo in t["media_urls"], auth("grid-heyuan"))
    assert ticket["linked_details"][0]["description"] == "消防箱玻璃碎了一地，小孩容易划伤"
    opened = await http.get(f"/api/v1/tickets/{second['ticket_id']}", headers=auth("grid-heyuan"))
    assert opened.status_code == 200, opened.text
    assert opened.json()["media_urls"] == [photo]
    # Not every unit: one that never worked on the lead ticket still cannot open it.
    stranger = await http.get(f"/api/v1/tickets/{second['ticket_id']}", headers=auth("cg-yunxi"))
    assert stranger.status_code in (403, 404)


async def test_every_unit_of_a_coordination_whistle_keeps_its_resolution_and_the_complaint(
    http: httpx.AsyncClient, redis: Redis
) -> None:
    submitted = await submit(
        http,
        category="traffic_obstruction",
        description="一排公交车排队等加气，把桃源路整条路都堵死了",
        location={"grid_code": "TY-01", "address": "桃源加气站门口"},
        channel="grid_worker",
    )
    ticket_id = submitted["ticket_id"]
    summoned = ("jiaojing-yunxi", "bus-yunxi", "jinhua-wuye", "grid-taoyuan")
    await until(http, ticket_id, lambda t: set(summoned) <= set(units_of(t)))
    notes = {
        "jiaojing-yunxi": "已疏导交通",
        "bus-yunxi": "已调整加气班次",
        "jinhua-wuye": "已开放内部停车场",
        "grid-taoyuan": "已回访路口商户",
    }
    for unit in summoned:
        response = await http.post(f"/api/v1/tickets/{ticket_id}/acknowledge", headers=auth(unit))
        assert response.status_code == 200, response.text
    for unit in summoned:
        response = await http.post(
            f"/api/v1/tickets/{ticket_id}/resolve",
            headers=auth(unit),
            json={"note": notes[unit], "evidence_urls": [f"https://img.example/{unit}.jpg"]},
        )
        assert response.status_code == 200, response.text
    ticket = await until(http, ticket_id, lambda t: t["status"] == "resolved")
    kept = {s["unit_id"]: s["note"] for s in ticket["resolution"]["sign_offs"]}
    assert kept == notes
    assert len(ticket["resolution"]["evidence_urls"]) == 4
    for note in notes.values():
        assert note in ticket["resolution"]["note"]

    open311 = await http.get(f"/open311/v2/requests/{ticket_id}.json")
    status_notes = open311.json()[0]["status_notes"]
    assert all(note in status_notes for note in notes.values()), status_notes
    updates = await http.get("/open311/v2/servicerequestupdates.json")
    said = [u["description"] for u in updates.json() if u["service_request_id"] == ticket_id]
    assert all(any(note in line for line in said) for note in notes.values()), said

    deadline = asyncio.get_running_loop().time() + TIMEOUT
    while not (
        sms := [e for e in await read_recorded(redis, ticket_id) if e.template == "resolved"]
    ):
        assert asyncio.get_running_loop().time() < deadline, "no resolved message"
        await asyncio.sleep(0.1)
    assert all(note in sms[0].text for note in notes.values()), sms[0].text
    assert "处理照片（4张）" in sms[0].text

    # The resident answers in Chinese, with a complaint: accepted, and in the history.
    rated = await http.post(
        f"/api/v1/tickets/{ticket_id}/rating",
        params={"token": resident_link_token(ticket_id)},
        json={"rating": "不满意", "comment": "早上还是堵"},
    )
    assert rated.status_code == 200, rated.text
    assert rated.json()["rating"] == "unsatisfied"
    # The resident's link answers with the resident's view: the reopen in plain words...
    assert rated.json()["view"] == "resident"
    assert any(e["text"].startswith("已重新办理") for e in rated.json()["timeline"])
    # ...and the complaint itself is in the history the units and operators read.
    full = await http.get(f"/api/v1/tickets/{ticket_id}", headers=OPERATOR)
    summaries = [h["summary"] for h in full.json()["history"]]
    assert any("早上还是堵" in s and "reopened" in s for s in summaries), summaries


async def queue_of(http: httpx.AsyncClient, centre: str) -> list[str]:
    response = await http.get("/api/v1/manual-queue", headers=auth(centre))
    assert response.status_code == 200, response.text
    return [t["ticket_id"] for t in response.json()["tickets"]]


async def waiting_ticket(http: httpx.AsyncClient, centre: str = "qingshi-command") -> str:
    """A report triage cannot place, on 青石街道: it waits for the street's centre."""
    submitted = await submit(
        http,
        description="和园小区这边有个情况想反映一下，麻烦来看看",
        location={"address": "和园小区 7号楼"},
        channel="hotline_12345",
    )
    ticket_id = str(submitted["ticket_id"])
    deadline = asyncio.get_running_loop().time() + TIMEOUT
    while ticket_id not in await queue_of(http, centre):
        assert asyncio.get_running_loop().time() < deadline, "never queued"
        await asyncio.sleep(0.1)
    return ticket_id


async def test_the_street_centre_lists_and_assigns_its_queue_over_http(
    http: httpx.AsyncClient,
) -> None:
    ticket_id = await waiting_ticket(http)
    refused = await http.get("/api/v1/manual-queue", headers=auth("grid-heyuan"))
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "needs_command_centre"
    missing = await http.post(
        f"/api/v1/tickets/{ticket_id}/assign",
        headers=auth("qingshi-command"),
        json={"lead": "cg-yunxi"},
    )
    assert missing.status_code == 422
    assert missing.json()["error"]["field"] == "category"

    assigned = await http.post(
        f"/api/v1/tickets/{ticket_id}/assign",
        headers=auth("qingshi-command"),
        json={"lead": "cg-yunxi", "category": "road_damage", "note": "路面问题，请城管处理"},
    )
    assert assigned.status_code == 200, assigned.text
    assert assigned.json()["dispatched"] == ["cg-yunxi"]
    ticket = await until(http, ticket_id, lambda t: "cg-yunxi" in units_of(t))
    assert ticket["status"] == "dispatched"
    # Assigned by the street, it stays at the street's level (not the bureau's district).
    assert units_of(ticket)["cg-yunxi"]["level"] == "street"
    assert ticket_id not in await queue_of(http, "qingshi-command")
    again = await http.post(
        f"/api/v1/tickets/{ticket_id}/assign",
        headers=auth("district-yunxi"),
        json={"lead": "xiaofang-yunxi", "category": "road_damage"},
    )
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "not_queued"


async def test_recategorising_a_waiting_ticket_routes_it(http: httpx.AsyncClient) -> None:
    ticket_id = await waiting_ticket(http)
    response = await http.post(
        f"/api/v1/tickets/{ticket_id}/recategorise",
        headers=auth("qingshi-command"),
        json={"category": "fire_box", "priority": "normal"},
    )
    assert response.status_code == 200, response.text
    ticket = await until(http, ticket_id, lambda t: "grid-heyuan" in units_of(t))
    assert ticket["status"] == "dispatched"
    assert ticket_id not in await queue_of(http, "qingshi-command")


async def test_a_gas_leak_found_by_triage_is_an_emergency(http: httpx.AsyncClient) -> None:
    submitted = await submit(
        http,
        description="和园小区门口燃气泄漏，闻到很大的煤气味",
        location={"address": "和园小区 A-160", "grid_code": "HY-01"},
        channel="hotline_12345",
    )
    ticket = await until(
        http, submitted["ticket_id"], lambda t: t["category"] == "emergency_hazard"
    )
    ticket = await until(http, ticket["ticket_id"], lambda t: bool(t["assignments"]))
    assert ticket["priority"] == "emergency"


async def test_the_clocks_escalate_a_forgotten_queue_and_a_missed_emergency_report_in(
    http: httpx.AsyncClient, redis: Redis
) -> None:
    waiting = await waiting_ticket(http)
    ticket = await until(
        http, waiting, lambda t: any(c["clock"] == "manual_dispatch" for c in t["clocks"])
    )
    clock = next(c for c in ticket["clocks"] if c["clock"] == "manual_dispatch")
    assert clock["level"] == "street"

    emergency = await submit(
        http,
        category="emergency_hazard",
        description="和园路路面爆裂冒烟，有触电危险",
        location={"address": "和园路", "grid_code": "HY-01"},
        channel="grid_worker",
    )
    emergency_id = emergency["ticket_id"]
    await until(http, emergency_id, lambda t: len(t["assignments"]) >= 4)

    await advance_shared_clock(redis, 31 * 60)  # nobody dispatches, nobody reports in
    deadline = asyncio.get_running_loop().time() + TIMEOUT
    while waiting not in await queue_of(http, "district-yunxi"):
        assert asyncio.get_running_loop().time() < deadline, "the queue never escalated"
        await asyncio.sleep(0.2)
    assert waiting not in await queue_of(http, "qingshi-command")

    ticket = await until(http, emergency_id, lambda t: "qingshi-command" in units_of(t))
    assert units_of(ticket)["qingshi-command"]["role"] == "supervisor"
    assert "district-yunxi" not in units_of(ticket)  # the street's centre first
    assert any("escalated street → street" in h["summary"] for h in ticket["history"])
