"""Ticket exports (#19) on real servers: `GET /api/v1/tickets.csv` and `.xlsx` hold exactly
what the search finds with the same filters and scope, read in Excel (a BOM, real times and
numbers, a frozen header), carry the reporter's contact only for operators (audited),
stream with bounded memory, and reach a console user only within their street."""

import asyncio
import csv
import io
import time
import tracemalloc
from collections.abc import AsyncIterator, Iterator, MutableMapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import openpyxl  # type: ignore[import-untyped]
import pytest
import structlog
from redis.asyncio import Redis

from chuishao.common.person_tokens import HEADER, PersonClaims, sign
from chuishao.common.place_names import PlaceName
from chuishao.common.places import publish_places
from chuishao.common.roles import PersonRole
from chuishao.common.tabular import XLSX_TYPE
from chuishao.intake import exports, indexes
from chuishao.intake.projection import created
from support.console import ConsoleHarness, running_console
from support.factories import submitted
from support.intake import CONSOLE_KEY, OPERATOR, OPERATOR_KEY, PERSON_SECRET, Harness, auth
from support.jetstream import until
from support.servers import Servers

GRID, QINGSHI, LIUAN, DISTRICT = "grid-heyuan", "qingshi-command", "liuan-command", "district-yunxi"
PHONE, NAME = "13912345678", "李女士"
# A comma, quotes and a line break: the CSV must quote them, not split the row; and a
# leading "=" a spreadsheet must not run as a formula.
AWKWARD = '=1+2 东门"消防栓"漏水，\n水流到路上, 请尽快处理'


@pytest.fixture
def audit_lines(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[MutableMapping[str, Any]]]:
    with structlog.testing.capture_logs() as lines:
        monkeypatch.setattr(exports, "log", structlog.get_logger())
        yield lines


def as_person(role: PersonRole, street: str | None = None) -> dict[str, str]:
    """A person at the console, as the console asks intake for them."""
    claims = PersonClaims("zhao", role, street=street, district="yunxi" if street else None)
    return {"X-API-Key": CONSOLE_KEY, HEADER: sign(PERSON_SECRET, claims, time.time(), 30)}


async def on_street(intake: Harness, street: str, **changes: Any) -> str:
    ticket_id = await intake.submit(**changes)
    await intake.dispatch(ticket_id, GRID, street=street)
    return ticket_id


async def searched(intake: Harness, headers: dict[str, str], **params: str) -> list[str]:
    """Every ticket id the search pages through, in its order."""
    found: list[str] = []
    cursor: str | None = None
    while True:
        page = await intake.http.get(
            "/api/v1/tickets",
            headers=headers,
            params={**params, "limit": "2", **({"cursor": cursor} if cursor else {})},
        )
        assert page.status_code == 200, page.text
        found += [t["ticket_id"] for t in page.json()["items"]]
        if (cursor := page.json()["next_cursor"]) is None:
            return found


def csv_rows(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.content.startswith("\ufeff".encode()), "no BOM: Excel reads mojibake"
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))


@pytest.fixture
async def streets(intake: Harness) -> dict[str, list[str]]:
    """Tickets on two streets, one of them acknowledged, resolved and rated."""
    await publish_places(
        intake.js,
        [
            PlaceName(code="qingshi", name="青石街道", kind="street"),
            PlaceName(code="heyuan", name="和园社区", kind="community", parent="qingshi"),
            PlaceName(code="HY-01", name="和园一网格", kind="grid", parent="heyuan"),
        ],
    )
    qingshi = [await on_street(intake, "qingshi", description=AWKWARD)]
    qingshi += [await on_street(intake, "qingshi") for _ in range(2)]
    liuan = [await on_street(intake, "liuan") for _ in range(2)]
    done = qingshi[0]
    for verb, who, body in (
        ("acknowledge", auth(GRID), None),
        ("resolve", auth(GRID), {"note": "已修好"}),
        ("rating", OPERATOR, {"rating": "满意"}),  # the operator rates for the caller
    ):
        answer = await intake.command(done, verb, who, body)
        assert answer.status_code == 200, answer.text
    places = intake.app.state.intake.places
    if places is not None:
        await until(lambda: places.get("HY-01") is not None)
    return {"qingshi": qingshi, "liuan": liuan}


async def test_the_csv_holds_exactly_what_the_search_finds_in_chinese(
    intake: Harness, streets: dict[str, list[str]], audit_lines: list[MutableMapping[str, Any]]
) -> None:
    for headers, params in (
        (auth(QINGSHI), {}),
        (auth(DISTRICT), {}),
        (auth(DISTRICT), {"street": "liuan"}),
        (auth(DISTRICT), {"status": "closed"}),
        (OPERATOR, {"category": "fire_box"}),
    ):
        answer = await intake.http.get("/api/v1/tickets.csv", headers=headers, params=params)
        assert answer.headers["content-type"].startswith("text/csv")
        disposition = answer.headers["content-disposition"]
        assert disposition.startswith('attachment; filename="chuishao-tickets-20')
        assert disposition.endswith('.csv"')
        rows = csv_rows(answer)
        assert [r["编号"] for r in rows] == await searched(intake, headers, **params), params

    rows = csv_rows(await intake.http.get("/api/v1/tickets.csv", headers=auth(QINGSHI)))
    assert {r["编号"] for r in rows} == set(streets["qingshi"])
    done = next(r for r in rows if r["编号"] == streets["qingshi"][0])
    assert done["问题描述"] == "'" + AWKWARD  # quoted, not split; text, not a formula
    assert (done["类别"], done["状态"], done["满意度"]) == ("消防箱损坏", "已结案", "满意")
    assert (done["街道"], done["社区/网格"]) == ("青石街道", "和园社区 / 和园一网格")
    assert (done["渠道"], done["责任单位"]) == ("随手拍", "和园社区网格站")
    assert done["签收时间"], done
    assert done["办结时间"], done
    datetime.strptime(done["提交时间"], "%Y-%m-%d %H:%M:%S")  # Beijing time, no zone
    assert done["反映人数"] == "1"
    assert "联系电话" not in done  # a command centre reads no reporters
    assert PHONE not in str(rows)
    assert NAME not in str(rows)
    assert any(line.get("event") == "tickets_exported" for line in audit_lines)


async def test_the_workbook_opens_with_a_frozen_header_and_real_times_and_numbers(
    intake: Harness, streets: dict[str, list[str]], audit_lines: list[MutableMapping[str, Any]]
) -> None:
    answer = await intake.http.get("/api/v1/tickets.xlsx", headers=OPERATOR)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == XLSX_TYPE
    assert answer.headers["content-disposition"].endswith('.xlsx"')
    sheet = openpyxl.load_workbook(io.BytesIO(answer.content)).active
    assert sheet.freeze_panes == "A2"
    header = [cell.value for cell in sheet[1]]
    assert header[:3] == ["编号", "类别", "状态"]
    assert sheet.cell(1, 1).font.bold
    rows = [dict(zip(header, (c.value for c in row), strict=True)) for row in sheet.iter_rows(2)]
    assert [r["编号"] for r in rows] == await searched(intake, OPERATOR)
    done = next(r for r in rows if r["编号"] == streets["qingshi"][0])
    assert isinstance(done["提交时间"], datetime)
    assert isinstance(done["办结时间"], datetime)
    assert done["提交时间"] <= done["签收时间"] <= done["办结时间"]
    submitted_at = (await intake.ticket(done["编号"]))["submitted_at"]
    beijing = datetime.fromisoformat(submitted_at).astimezone(exports.ZONE)
    assert abs(done["提交时间"] - beijing.replace(tzinfo=None)) < timedelta(seconds=1)
    assert isinstance(done["反映人数"], int)
    assert isinstance(done["退单次数"], int)
    # An operator may read reporters: the contact is there, and the export audited.
    assert (done["反映人"], done["联系电话"]) == (NAME, PHONE)
    assert done["问题描述"] == AWKWARD
    cells = {row[0].value: row for row in sheet.iter_rows(2)}
    described = cells[done["编号"]][header.index("问题描述")]
    assert described.data_type == "s", "a resident's text written as a formula"
    audited = [line for line in audit_lines if line["event"] == "reporter_contacts_exported"]
    assert audited, audit_lines
    assert (audited[-1]["operator"], audited[-1]["rows"]) == ("hotline", len(rows))
    assert PHONE not in str(audit_lines)


async def test_each_caller_exports_only_its_own_and_the_contact_only_to_operators(
    intake: Harness, streets: dict[str, list[str]]
) -> None:
    # A street's key or a street's person at the console: never another street's.
    for headers in (auth(LIUAN), as_person(PersonRole.COMMAND_CENTRE, "liuan")):
        for params in ({}, {"street": "qingshi"}, {"unit": GRID}):
            rows = csv_rows(
                await intake.http.get("/api/v1/tickets.csv", headers=headers, params=params)
            )
            assert not {r["编号"] for r in rows} & set(streets["qingshi"]), params
        rows = csv_rows(await intake.http.get("/api/v1/tickets.csv", headers=headers))
        assert {r["编号"] for r in rows} == set(streets["liuan"])
        book = await intake.http.get("/api/v1/tickets.xlsx", headers=headers)
        sheet = openpyxl.load_workbook(io.BytesIO(book.content)).active
        assert {row[0].value for row in sheet.iter_rows(2)} == set(streets["liuan"])

    # A unit: its own tickets, no contact, and a number in the description masked.
    said = await on_street(intake, "qingshi", description=f"请回电 {PHONE} 谢谢")
    rows = csv_rows(await intake.http.get("/api/v1/tickets.csv", headers=auth(GRID)))
    assert {r["编号"] for r in rows} == {*streets["qingshi"], *streets["liuan"], said}
    assert "联系电话" not in rows[0]
    assert PHONE not in str(rows)
    operators = csv_rows(await intake.http.get("/api/v1/tickets.csv", headers=OPERATOR))
    assert PHONE in next(r["问题描述"] for r in operators if r["编号"] == said)
    assert PHONE in next(r["联系电话"] for r in operators if r["编号"] == said)

    # Bad filters and callers: refused before any file starts, in the one error shape.
    for headers, params, status, code in (
        (OPERATOR, {"status": "bogus"}, 422, None),
        (OPERATOR, {"since": "yesterday"}, 422, None),
        ({}, {}, 401, "key_required"),
        (auth(GRID), {"unit": "bus-yunxi"}, 403, "forbidden"),
    ):
        for suffix in ("csv", "xlsx"):
            answer = await intake.http.get(
                f"/api/v1/tickets.{suffix}", headers=headers, params=params
            )
            assert answer.status_code == status, answer.text
            error = answer.json()["error"]
            assert error["message_zh"], error
            assert error["message_en"], error
            assert code is None or error["code"] == code


MANY = 1200
PAGE = 20  # small pages: what one page holds is far below the whole file
WORDS = "楼道里的消防栓箱门坏了，里面的水带也不见了，" * 24  # ~1.6 KB in UTF-8


async def _store_many(redis: Redis) -> None:
    """MANY tickets written straight into intake's records and indexes (as the search's
    scale test does): thousands of reports through the API would take too long here."""
    base = created(submitted(ticket_id="T20260101000000"))
    now = datetime(2026, 3, 1, tzinfo=UTC)
    async with redis.pipeline(transaction=False) as pipe:
        for n in range(MANY):
            at = now - timedelta(minutes=n)
            record = base.model_copy(
                update={
                    "ticket_id": f"T20260101{n:06d}",
                    "submitted_at": at,
                    "updated_at": at,
                    "description": WORDS,
                    "street": "qingshi",
                }
            )
            pipe.set(f"ticket:{record.ticket_id}", record.model_dump_json())
            indexes.update(pipe, None, record)
        await pipe.execute()


async def _download(app: Any, path: str, headers: dict[str, str]) -> list[int]:
    """The answer's body messages as the server sends them (their sizes), read straight
    off the ASGI app: httpx's test transport would gather the whole body first."""
    sizes: list[int] = []
    path, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query.encode(),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("intake", 80),
    }

    asked, done = asyncio.Event(), asyncio.Event()

    async def receive() -> dict[str, Any]:
        if not asked.is_set():
            asked.set()
            return {"type": "http.request", "body": b"", "more_body": False}
        await done.wait()  # the client stays until the answer has ended
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            assert message["status"] == 200, message
        elif message["type"] == "http.response.body":
            sizes.append(len(message.get("body", b"")))
            if not message.get("more_body", False):
                done.set()

    await app(scope, receive, send)
    return sizes


async def test_a_large_export_streams_with_bounded_memory(
    intake: Harness, redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _store_many(redis)
    monkeypatch.setattr(exports, "EXPORT_PAGE", PAGE)
    operator = {"X-API-Key": OPERATOR_KEY}
    # Once first, so what a first request caches (imports, validators) is not counted.
    await _download(intake.app, "/api/v1/tickets.csv?category=none", operator)
    tracemalloc.start()
    try:
        sizes = await _download(intake.app, "/api/v1/tickets.csv", operator)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    total = sum(sizes)
    assert total > MANY * len(WORDS.encode())  # every ticket is in it
    # Sent a page at a time, never as one body: the header, then a piece per page.
    assert len(sizes) >= MANY // PAGE
    assert max(sizes) < total / 20
    # What was held at once stayed well below the file's size: it grows with the page,
    # not with the tickets (measured: 0.75 MB at 20 a page for this 2 MB file; 4.4 MB at
    # 200 a page both for 2,500 and for 6,000 tickets).
    assert peak < total / 2, (peak, total)


@pytest.fixture
async def console(servers: Servers, intake: Harness) -> AsyncIterator[ConsoleHarness]:
    async with running_console(servers.nats_url, servers.redis_url, intake.app) as harness:
        yield harness


async def test_the_console_search_exports_as_the_person_within_their_street(
    intake: Harness, streets: dict[str, list[str]], console: ConsoleHarness
) -> None:
    await console.account("liu", PersonRole.COMMAND_CENTRE, "liuan")
    assert (await console.login("liu")).status_code == 303
    page = await console.http.get(
        "/centre/search", params={"status": "in_progress", "since": "2026-01-01"}
    )
    assert page.status_code == 200, page.text
    assert "导出 CSV" in page.text
    assert "导出 Excel" in page.text
    link = "/centre/search/export.csv?status=in_progress&amp;since=2026-01-01"
    assert link in page.text  # the links carry the filters

    answer = await console.http.get("/centre/search/export.csv")
    assert answer.headers["content-disposition"].startswith("attachment;")
    assert {r["编号"] for r in csv_rows(answer)} == set(streets["liuan"])
    asked = await console.http.get("/centre/search/export.xlsx", params={"street": "qingshi"})
    assert asked.status_code == 200, asked.text
    sheet = openpyxl.load_workbook(io.BytesIO(asked.content)).active
    assert list(sheet.iter_rows(2)) == []  # another street: nothing
    refused = await console.http.get("/centre/search/export.csv", params={"status": "bogus"})
    assert refused.status_code == 422
