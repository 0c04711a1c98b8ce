"""Probes from outside (ADV) of the ticket exports and appeals, on real servers:

- a CSV export neutralises formulas hidden behind look-alikes (a full-width ＝, a space
  or an ideographic space before "="), not only a plain leading "=";
- a number a resident typed into the address is masked in a street's export, as the
  description is (only an operator's file keeps it);
- two appeal decisions sent at once: exactly one is taken, the other refused;
- an export never reaches past the caller's scope whatever the query says."""

import asyncio
import csv
import io
from typing import Any

import httpx
import openpyxl  # type: ignore[import-untyped]

from support.intake import OPERATOR, Harness, auth

GRID, DISTRICT, CITY, LIUAN = "grid-heyuan", "district-yunxi", "city-12345", "liuan-command"
# What a spreadsheet could still take for a formula once it trims spaces (LibreOffice's
# "trim spaces") or reads full-width forms as their ASCII twins (East Asian Excel).
LOOK_ALIKES = (
    '＝HYPERLINK("http://evil.example","点我查看")',
    "﹦1+2",
    " =1+2",
    "\u3000=1+2",
    "\u00a0+1+2",
    "＋1+2",
    "－1+2",
    "＠SUM(A1)",
)


def csv_rows(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))


async def look_alikes_are_neutralised(intake: Harness) -> None:
    made = {await intake.submit(description=text + " 路灯坏了"): text for text in LOOK_ALIKES}
    # The operator's export: the description unmasked, exactly as typed.
    rows = csv_rows(await intake.http.get("/api/v1/tickets.csv", headers=OPERATOR))
    cells = {r["编号"]: r["问题描述"] for r in rows if r["编号"] in made}
    assert len(cells) == len(LOOK_ALIKES)
    for ticket_id, cell in cells.items():
        assert cell.startswith("'"), (made[ticket_id], cell)
        assert cell[1:] == made[ticket_id] + " 路灯坏了"  # the text itself kept whole


async def _decision(intake: Harness, ticket_id: str, who: str, outcome: str) -> httpx.Response:
    body = {"appeal_id": f"{GRID}:rating:1", "outcome": outcome, "note": "核实"}
    return await intake.command(ticket_id, "appeal-decisions", auth(who), body)


async def test_two_decisions_at_once_only_one_is_taken(intake: Harness) -> None:
    ticket_id = await intake.submit()
    await intake.dispatch(ticket_id, GRID)
    for verb, who, body in (
        ("acknowledge", auth(GRID), None),
        ("resolve", auth(GRID), {"note": "已修好"}),
        ("rating", OPERATOR, {"rating": "unsatisfied"}),
    ):
        answer = await intake.command(ticket_id, verb, who, body)
        assert answer.status_code == 200, answer.text
    # A double-tapped appeal: one is filed, the others refused (one open per subject).
    appeal = {"subject": "rating", "reason": "居民不在家，已修好"}
    filed = await asyncio.gather(
        *(intake.command(ticket_id, "appeals", auth(GRID), appeal) for _ in range(3))
    )
    assert sorted(a.status_code for a in filed) == [200, 409, 409], [a.text for a in filed]
    answers = await asyncio.gather(
        _decision(intake, ticket_id, DISTRICT, "upheld"),
        _decision(intake, ticket_id, CITY, "rejected"),
        _decision(intake, ticket_id, DISTRICT, "rejected"),
    )
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200, 409, 409], [a.text for a in answers]
    (taken,) = (a for a in answers if a.status_code == 200)
    (appeal,) = (await intake.ticket(ticket_id))["appeals"]
    decided: dict[str, Any] = taken.json()["appeals"][0]
    assert appeal["outcome"] == decided["outcome"]
    assert appeal["decided_by"] == decided["decided_by"]


async def test_an_export_neutralises_look_alikes_masks_the_address_and_keeps_to_scope(
    intake: Harness,
) -> None:
    await look_alikes_are_neutralised(intake)
    phone = "13912345678"
    ticket_id = await intake.submit(
        location={"address": f"和园小区A-160 有事打{phone}找李女士", "grid_code": "HY-01"},
        description="消防箱坏了，联系我13912345678",
    )
    await intake.dispatch(ticket_id, GRID, street="qingshi")
    for suffix in ("csv", "xlsx"):
        answer = await intake.http.get(f"/api/v1/tickets.{suffix}", headers=auth("qingshi-command"))
        assert answer.status_code == 200, answer.text
        if suffix == "csv":
            text = answer.content.decode("utf-8-sig")
        else:
            sheet = openpyxl.load_workbook(io.BytesIO(answer.content)).active
            text = str([[c.value for c in row] for row in sheet.iter_rows()])
        assert ticket_id in text
        assert phone not in text, suffix  # a file travels further than a screen
        assert "和园小区A-160" in text  # the address itself stays
    # The operator's file keeps it whole (audited): 12345 may read reporters.
    whole = await intake.http.get("/api/v1/tickets.csv", headers=OPERATOR)
    assert phone in whole.content.decode("utf-8-sig")
    # Another street's centre never gets it, whatever the query says.
    for params in (
        {"street": "qingshi"},
        {"unit": GRID},
        {"street": "qingshi", "unit": GRID, "status": "dispatched"},
        {"street": "qingshi\x00"},
        {"street": "../qingshi"},
        {"street": "*"},
        {"category": "*"},
    ):
        answer = await intake.http.get("/api/v1/tickets.csv", headers=auth(LIUAN), params=params)
        assert answer.status_code in (200, 422), answer.text
        assert ticket_id not in answer.text, params
