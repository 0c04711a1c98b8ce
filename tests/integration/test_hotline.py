"""What a 12345 operator needs on a call, on real servers: the caller's earlier tickets by
number (operators only, never the number in a log line), the reporter's contact for a
callback (回访), callbacks that reach no rating recorded in the history, and the resolved
tickets oldest first for the worklist."""

import json
from collections.abc import Iterator, MutableMapping
from typing import Any

import pytest
import structlog

from chuishao.intake import callers
from support.intake import OPERATOR, Harness, auth, report_body, resident_link_token

GRID = "grid-heyuan"
CALLER = "13700001111"


@pytest.fixture
def audit_lines(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[MutableMapping[str, Any]]]:
    """What intake's hotline routes log, captured by structlog (the module's own logger
    was cached on first use, by an earlier test)."""
    with structlog.testing.capture_logs() as lines:
        monkeypatch.setattr(callers, "log", structlog.get_logger())
        yield lines


async def resolved(intake: Harness, **changes: object) -> str:
    return await intake.resolved("已修好", GRID, **changes)


async def test_an_operator_finds_a_callers_earlier_tickets_by_number(
    intake: Harness, audit_lines: list[MutableMapping[str, Any]]
) -> None:
    mine = [
        await intake.submit(reporter={"name": "周先生", "phone": CALLER}, description=words)
        for words in ("楼道灯坏了", "井盖松动")
    ]
    await intake.submit(reporter={"name": "吴女士", "phone": "13700002222"})
    audit_lines.clear()

    found = await intake.http.post(
        "/api/v1/caller-lookups", json={"phone": CALLER}, headers=OPERATOR
    )
    assert found.status_code == 200, found.text
    assert [t["ticket_id"] for t in found.json()["items"]] == mine[::-1]  # newest first
    assert all("reporter" not in t for t in found.json()["items"])
    logged = str(audit_lines)
    assert "caller_looked_up" in logged
    assert CALLER not in logged  # the audit line names the operator, never the number

    for refused_to in (auth(GRID), auth("qingshi-command")):
        answer = await intake.http.post(
            "/api/v1/caller-lookups", json={"phone": CALLER}, headers=refused_to
        )
        assert answer.status_code == 403, answer.text
        assert answer.json()["error"]["code"] == "operators_only"
    resident = await intake.http.post(
        "/api/v1/caller-lookups",
        json={"phone": CALLER},
        params={"token": resident_link_token(mine[0])},
    )
    assert resident.status_code in (401, 403)
    bad = await intake.http.post("/api/v1/caller-lookups", json={"phone": "12"}, headers=OPERATOR)
    assert bad.status_code == 422


async def test_a_callback_worklist_oldest_first_with_the_number_and_the_attempts(
    intake: Harness, audit_lines: list[MutableMapping[str, Any]]
) -> None:
    first = await resolved(intake, reporter={"name": "郑先生", "phone": CALLER})
    second = await resolved(intake)
    page = await intake.http.get(
        "/api/v1/tickets", params={"status": "resolved", "order": "oldest"}, headers=OPERATOR
    )
    ids = [t["ticket_id"] for t in page.json()["items"]]
    assert ids.index(first) < ids.index(second)
    newest = await intake.http.get(
        "/api/v1/tickets", params={"status": "resolved"}, headers=OPERATOR
    )
    assert [t["ticket_id"] for t in newest.json()["items"]] == ids[::-1]

    audit_lines.clear()
    contact = await intake.http.get(f"/api/v1/tickets/{first}/reporter", headers=OPERATOR)
    assert contact.status_code == 200, contact.text
    assert contact.json() == {"ticket_id": first, "name": "郑先生", "phone": CALLER}
    logged = str(audit_lines)
    assert "reporter_contact_read" in logged
    assert CALLER not in logged
    theirs = await intake.http.get(f"/api/v1/tickets/{first}/reporter", headers=auth(GRID))
    assert theirs.status_code == 403

    for attempt in (1, 2):
        answer = await intake.command(first, "callbacks", OPERATOR, {"outcome": "no_answer"})
        assert answer.status_code == 200, answer.text
        assert answer.json()["callback_attempts"] == attempt
        assert answer.json()["status"] == "resolved"  # still waiting for a rating
    by_unit = await intake.command(first, "callbacks", auth(GRID), {"outcome": "no_answer"})
    assert by_unit.status_code == 403
    history = (await intake.ticket(first))["history"]
    assert [h["summary"] for h in history if h["type"] == "CallbackAttempted"] == [
        "callback 1: no_answer",
        "callback 2: no_answer",
    ]
    # The third call reaches the caller: the operator records the rating for them.
    rated = await intake.command(first, "rating", OPERATOR, {"rating": "基本满意"})
    assert rated.status_code == 200, rated.text
    assert rated.json()["status"] == "closed"
    late = await intake.command(first, "callbacks", OPERATOR, {"outcome": "no_answer"})
    assert late.status_code == 409
    assert json.loads(late.text)["error"]["code"] == "illegal_transition"


async def test_oldest_first_pages_through_every_ticket_once(intake: Harness) -> None:
    filed = [await intake.submit(description=f"第{n}件") for n in range(5)]
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"order": "oldest", "limit": "2", **({"cursor": cursor} if cursor else {})}
        page = (await intake.http.get("/api/v1/tickets", params=params, headers=OPERATOR)).json()
        seen += [t["ticket_id"] for t in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [t for t in seen if t in filed] == filed
    assert len(seen) == len(set(seen))


ANSWER = {"entry_id": "kb-heating", "version": 2, "answer": "供暖季为每年11月15日至次年3月15日"}


async def test_a_call_answered_from_the_knowledge_base_is_closed_and_never_routed(
    intake: Harness,
) -> None:
    where = {"address": "12345来电咨询（无具体地点）"}
    report = report_body("问今年什么时候开始供暖", where, "hotline_12345", answered=ANSWER)
    filed = await intake.http.post("/api/v1/reports", json=report, headers=OPERATOR)
    assert filed.status_code == 201, filed.text
    assert filed.json()["status"] == "closed"
    ticket = await intake.ticket(filed.json()["ticket_id"])
    assert ticket["status"] == "closed"
    assert ticket["assignments"] == []
    assert [h["type"] for h in ticket["history"]] == ["TicketSubmitted"]
    stored = await intake.js.get_last_msg("TICKETS", f"ticket.submitted.{ticket['ticket_id']}")
    assert json.loads(stored.data or b"")["answered"] == ANSWER  # in the stream: rebuildable

    for who in ({}, auth(GRID), auth("qingshi-command")):
        refused = await intake.http.post("/api/v1/reports", json=report, headers=who)
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["code"] == "answer_by_operator"
