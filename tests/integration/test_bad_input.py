"""What an independent probe sent intake and got a 5xx, a stuck outbox or a malformed
document for: each answers a clear 4xx now, and one bad outbox entry holds up nothing."""

import asyncio
import json
import time
from datetime import UTC, datetime
from typing import Any
from xml.etree import ElementTree

import orjson
import pytest
from fastapi import Request
from nats.js import JetStreamContext
from redis.asyncio import Redis

from chuishao.common.catalogue import Attribute, Category, publish_catalogue
from chuishao.common.delivery import ERROR_HEADER, REASON_HEADER
from chuishao.common.errors import ErrorDetail, nats_error_reply
from chuishao.common.events import TicketSubmitted, parse_event
from chuishao.intake.http_errors import render
from chuishao.intake.records import PACKING
from chuishao.intake.relay import OUTBOX_LETTERS, relay_once
from chuishao.intake.store import OUTBOX, OUTBOX_EVENTS
from support.factories import submitted
from support.intake import CATEGORIES, OPEN311_KEY, OPERATOR, Harness, open311_form

REPORT: dict[str, Any] = {
    "category": "fire_box",
    "description": "A-160车位旁消防箱玻璃碎了",
    "location": {"lat": 39.9, "long": 116.4, "address": "和园小区A-160"},
    "channel": "snap_it",
}
BIG = Category(
    code="big_form",
    name="长表单",
    group="facility",
    attributes=(
        *(Attribute(code=f"q{i}", datatype="text", description=f"问题{i}") for i in range(50)),
        Attribute(
            code="kinds",
            datatype="multivaluelist",
            description="种类",
            values=(("a", "甲"), ("b", "乙")),
        ),
    ),
)


async def _with_big_category(intake: Harness) -> None:
    await publish_catalogue(intake.js, [*CATEGORIES, BIG])
    catalogue = intake.app.state.intake.catalogue
    deadline = time.monotonic() + 10
    while catalogue.get(BIG.code) is None:
        assert time.monotonic() < deadline, "the catalogue never showed the new category"
        await asyncio.sleep(0.02)


def _error(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert error["message_zh"]
    assert error["message_en"]
    return error


@pytest.mark.parametrize("lat", ["NaN", "Infinity", "-Infinity", "1e999", "91", "-90.0001"])
async def test_a_latitude_that_is_no_place_is_a_clear_422(intake: Harness, lat: str) -> None:
    body = json.dumps(REPORT).replace('"lat": 39.9', f'"lat": {lat}')
    response = await intake.http.post(
        "/api/v1/reports", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert _error(response)["field"] == "location.lat"


@pytest.mark.parametrize("long_", ["NaN", "1e999", "180.5"])
async def test_a_longitude_that_is_no_place_is_a_clear_422(intake: Harness, long_: str) -> None:
    body = json.dumps(REPORT).replace('"long": 116.4', f'"long": {long_}')
    response = await intake.http.post(
        "/api/v1/reports", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422, response.text


async def test_ticket_ids_of_another_shape_are_not_found_not_a_500(
    intake: Harness, redis: Redis
) -> None:
    day = datetime.now(UTC).strftime("%Y%m%d")
    # What the probe hit: a key beside the records that is not a record (a day counter).
    await redis.set(f"ticket:seq:{day}", 7)
    for path in (f"seq:{day}", f"seq%3A{day}", "T1%00", "x" * 65):
        response = await intake.http.get(f"/api/v1/tickets/{path}", headers=OPERATOR)
        assert response.status_code == 404, (path, response.text)
        _error(response)
        for url in (f"/open311/v2/requests/{path}.json", f"/open311/v2/tokens/{path}.json"):
            response = await intake.http.get(url)
            assert response.status_code == 404, (url, response.text)
            [error] = response.json()
            assert error["code"] == 404
            assert error["description"]
    for ids in (f"seq:{day}", f"T20260101000001,seq:{day}", "a b"):
        response = await intake.http.get(
            "/open311/v2/requests.json", params={"service_request_id": ids}
        )
        assert response.status_code == 400, (ids, response.text)
        assert "service_request_id" in response.json()[0]["description"]


@pytest.mark.parametrize("path", ["requests", "servicerequestupdates"])
@pytest.mark.parametrize(
    "dates",
    [
        {"end_date": "0001-01-01"},
        {"end_date": "0001-01-01T00:00:00Z", "start_date": "0001-01-01T00:00:00Z"},
        {"start_date": "9999-12-31T23:59:59Z"},
    ],
)
async def test_dates_out_of_any_range_are_a_400(
    intake: Harness, path: str, dates: dict[str, str]
) -> None:
    for fmt in ("json", "xml"):
        response = await intake.http.get(
            f"/open311/v2/{path}.{fmt}", params={"api_key": OPEN311_KEY, **dates}
        )
        assert response.status_code == 400, response.text


@pytest.mark.parametrize("bad", ["\x00", "\x1b[31m", "\x7f", "\ud800", "\ufffe"])
async def test_control_characters_in_free_text_are_a_422(intake: Harness, bad: str) -> None:
    body = json.dumps(REPORT | {"description": f"消防箱{bad}坏了"})
    response = await intake.http.post(
        "/api/v1/reports", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert _error(response)["field"] == "description"
    for field in (
        {"location": {"address": f"和园{bad}小区"}},
        {"reporter": {"name": f"李{bad}"}},
    ):
        body = json.dumps(REPORT | field)
        response = await intake.http.post(
            "/api/v1/reports", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 422, (field, response.text)
    if bad == "\ud800":
        return  # a lone surrogate cannot even be form-encoded; JSON carries it above
    response = await intake.http.post(
        "/open311/v2/requests.json",
        data=open311_form(f"消防箱{bad}坏了"),
    )
    assert response.status_code == 400, response.text


async def test_tabs_and_newlines_are_still_free_text(intake: Harness) -> None:
    await intake.submit(description="消防箱坏了\n玻璃碎了\t请尽快处理\r\n")


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        # A lone surrogate in an attribute CODE: once echoed into a message no renderer
        # could encode, a plain-text 500.
        ({"attributes": {"\ud800": "a"}}, "attributes"),
        ({"attributes": {"q\ud800" * 100: "a"}}, "attributes"),  # long too: printable first
        ({"attributes": {"a\x00b": "a"}}, "attributes"),
    ],
)
async def test_a_lone_surrogate_or_control_character_in_a_key_is_a_422(
    intake: Harness, extra: dict[str, Any], field: str
) -> None:
    body = json.dumps(REPORT | extra)  # ensure_ascii: the surrogate travels as \ud800
    response = await intake.http.post(
        "/api/v1/reports", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/json"
    assert _error(response)["field"] == field


@pytest.mark.parametrize("path", ["/api/v1/reports", "/open311/v2/requests.json"])
def test_an_error_echoing_unencodable_text_still_renders(path: str) -> None:
    # Whatever a message echoes, the renderer answers (it raised UnicodeEncodeError: a 500).
    scope = {"type": "http", "method": "POST", "path": path, "headers": [], "query_string": b""}
    detail = ErrorDetail(
        code="invalid",
        message_zh="附加信息 \ud800 太大",
        message_en="attribute \ud800 is too long",
        field="attributes.\ud800",
    )
    response = render(Request(scope), 422, detail)
    assert "\\ud800" in bytes(response.body).decode("utf-8")
    assert b"ud800" in orjson.dumps(nats_error_reply(detail))


@pytest.mark.parametrize(
    ("body", "line", "column"),
    [(b'{"a":', 1, 6), (b'{\n  "category": "fire_box",\n  "description": \n', 4, 1)],
)
async def test_a_truncated_json_body_says_where_it_breaks_and_names_no_field(
    intake: Harness, body: bytes, line: int, column: int
) -> None:
    # Once: field "5", message "5: JSON decode error" (the offset taken for a field).
    response = await intake.http.post(
        "/api/v1/reports", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422, response.text
    error = _error(response)
    assert error["field"] is None
    assert error["message_en"].startswith("The body is not valid JSON")
    assert f"line {line}, column {column}" in error["message_en"]
    assert f"第 {line} 行第 {column} 列" in error["message_zh"]


async def test_an_oversized_open311_form_is_told_to_send_a_form(intake: Harness) -> None:
    response = await intake.http.post(
        "/open311/v2/requests.json",
        data=open311_form("x" * 2_000_000),  # over Starlette's 1 MB a field
    )
    assert response.status_code == 400, response.text
    [error] = response.json()  # Open311's own shape: a list of {code, description}
    assert error["code"] == 400
    assert "form-encoded" in error["description"]
    assert "JSON" not in error["description"]


async def test_requests_xml_stays_well_formed_whatever_a_record_holds(
    intake: Harness, redis: Redis
) -> None:
    ticket_id = await intake.submit()
    # A record stored before control characters were refused (as JSON, before packing).
    key = f"ticket:{ticket_id}"
    record = json.loads(PACKING.unpack(await redis.get(key) or b"{}"))
    record["description"] = "消防箱\x00坏了\x1b"
    record["location"]["address"] = "和园\x00小区"
    await redis.set(key, json.dumps(record))
    for url in (
        f"/open311/v2/requests/{ticket_id}.xml",
        f"/open311/v2/requests.xml?service_request_id={ticket_id}",
        f"/open311/v2/requests.xml?api_key={OPEN311_KEY}",
        "/open311/v2/requests/T%00.xml",
        "/open311/v2/services/%00.xml",
    ):
        response = await intake.http.get(url)
        ElementTree.fromstring(response.content)  # raises on a malformed document
        assert b"\x00" not in response.content


async def test_a_huge_attribute_or_list_is_refused_before_anything_is_stored(
    intake: Harness, js: JetStreamContext, redis: Redis
) -> None:
    await _with_big_category(intake)
    before = (await js.stream_info("TICKETS")).state.messages
    for attributes in (
        {"q0": "消" * 500_000},  # 1.5 MB in UTF-8: once stored, then stuck in the outbox
        {"kinds": ["a"] * 200_000},
        {"kinds": ["a", "a"]},
    ):
        response = await intake.http.post(
            "/api/v1/reports",
            json=REPORT | {"category": BIG.code, "attributes": attributes},
        )
        assert response.status_code == 422, response.text[:300]
        assert _error(response)["field"] is not None
    assert (await js.stream_info("TICKETS")).state.messages == before
    assert [key async for key in redis.scan_iter("ticket:T*")] == []


async def test_an_event_over_the_size_cap_is_a_413_before_the_write(
    intake: Harness, js: JetStreamContext, redis: Redis
) -> None:
    await _with_big_category(intake)
    # Every answer within its own limit, together 50 × 4000 × 3 bytes: about 600 KB.
    attributes = {f"q{i}": "消" * 4000 for i in range(50)}
    response = await intake.http.post(
        "/api/v1/reports", json=REPORT | {"category": BIG.code, "attributes": attributes}
    )
    assert response.status_code == 413, response.text[:300]
    error = _error(response)
    assert error["code"] == "too_large"
    assert "KB" in error["message_zh"]
    assert [key async for key in redis.scan_iter("ticket:T*")] == []
    assert await redis.zcard(OUTBOX) == 0
    # Half of it goes through.
    half = {f"q{i}": "消" * 4000 for i in range(15)}
    response = await intake.http.post(
        "/api/v1/reports", json=REPORT | {"category": BIG.code, "attributes": half}
    )
    assert response.status_code == 201, response.text[:300]


def _event(ticket_id: str, **attributes: str) -> TicketSubmitted:
    return submitted(
        ticket_id=ticket_id, description="消防箱玻璃碎了，联系13812345678", attributes=attributes
    )


async def test_one_bad_outbox_entry_is_dead_lettered_and_the_rest_go_on(
    intake: Harness, js: JetStreamContext, redis: Redis
) -> None:
    store = intake.app.state.intake.store
    too_big = _event("T20990101000001", q="消" * 500_000)  # over NATS's 1 MB
    good = _event("T20990101000002")
    queued = time.time() - 60
    # In the order the relay meets them: the bad ones first, the good one behind.
    await redis.zadd(OUTBOX, {"not-json": queued, too_big.event_id: queued + 1})
    await redis.zadd(OUTBOX, {good.event_id: queued + 2})
    await redis.hset(OUTBOX_EVENTS, "not-json", b"{\x00 not an event")
    await redis.hset(OUTBOX_EVENTS, too_big.event_id, too_big.model_dump_json())
    await redis.hset(OUTBOX_EVENTS, good.event_id, good.model_dump_json())

    assert await relay_once(store, js, grace=0) == 1

    stored = await js.get_last_msg("TICKETS", f"ticket.submitted.{good.ticket_id}")
    assert parse_event(stored.data or b"").event_id == good.event_id
    assert await redis.zcard(OUTBOX) == 0
    assert await redis.hlen(OUTBOX_EVENTS) == 0
    letters = []
    info = await js.stream_info("DEADLETTER")
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        message = await js.get_msg("DEADLETTER", seq)
        if message.subject == OUTBOX_LETTERS:
            letters.append(message)
    assert len(letters) == 2
    reasons = {m.headers[REASON_HEADER] for m in letters if m.headers}
    assert reasons == {"unprocessable", "unpublishable"}
    for message in letters:
        assert message.headers
        assert message.headers[ERROR_HEADER]
        assert b"13812345678" not in (message.data or b"")
        assert len(message.data or b"") < 300 * 1024
    # The next round has nothing left to fail on.
    assert await relay_once(store, js, grace=0) == 0
