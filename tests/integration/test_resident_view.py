"""A resident's SMS link shows the public face of the ticket and their own report: never
another resident's linked report, another reporter's photo or a unit's internal note."""

import json
from typing import Any

from support.intake import OPERATOR, Harness, auth, report_body, resident_link_token

GRID = "grid-heyuan"
HERE = {"lat": 39.90870, "long": 116.39750, "address": "和园小区 A-160"}
NEAR = {"lat": 39.90870, "long": 116.39809, "address": "和园小区 3号楼"}  # about 50 m east
FIRST_WORDS = "A-160车位旁消防箱玻璃碎了"
FIRST_PHOTO = "https://img.example/li-box.jpg"
SECOND_WORDS = "我是3号楼张女士，电话13812345678，我家门口消防箱坏了"
SECOND_PHOTO = "https://img.example/zhang-door.jpg"
# What only each report says (a linked report's words travel masked: match the rest).
FIRST_MARK, SECOND_MARK = "A-160车位旁", "我家门口消防箱坏了"
INTERNAL = "已电话联系王先生 13700001111"
EVIDENCE = "https://img.example/fixed.jpg"


async def report(
    intake: Harness, words: str, where: dict[str, Any], photo: str, name: str, phone: str
) -> dict[str, Any]:
    """A resident's report from the snap-it channel, with a photo: the answer's body."""
    body = report_body(words, where, media_urls=[photo], reporter={"name": name, "phone": phone})
    response = await intake.http.post("/api/v1/reports", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def as_resident(intake: Harness, ticket_id: str) -> dict[str, Any]:
    response = await intake.http.get(
        f"/api/v1/tickets/{ticket_id}", params={"token": resident_link_token(ticket_id)}
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def handled_twice(intake: Harness) -> tuple[str, str]:
    """Two residents report one problem; the unit notes internally, then resolves."""
    first = await report(intake, FIRST_WORDS, HERE, FIRST_PHOTO, "李女士", "13912345678")
    second = await report(intake, SECOND_WORDS, NEAR, SECOND_PHOTO, "张女士", "13812345678")
    t1, t2 = first["ticket_id"], second["ticket_id"]
    assert second["status"] == "linked"
    assert second["linked_to"] == t1
    await intake.until(t1, lambda t: SECOND_PHOTO in t["media_urls"])
    await intake.dispatch(t1, GRID)
    noted = await intake.command(t1, "notes", auth(GRID), {"note": INTERNAL})
    assert noted.status_code == 200, noted.text
    assert (await intake.command(t1, "acknowledge", auth(GRID))).status_code == 200
    resolved = await intake.command(
        t1, "resolve", auth(GRID), {"note": "已更换玻璃，联系人王先生", "evidence_urls": [EVIDENCE]}
    )
    assert resolved.status_code == 200, resolved.text
    await intake.until(t1, lambda t: t["resolution"] is not None)
    return t1, t2


def assert_nothing_private(
    shown: dict[str, Any], other_words: str, other_photo: str, other_phone: str
) -> None:
    text = json.dumps(shown, ensure_ascii=False)
    assert other_words not in text
    assert other_photo not in text
    assert "13700001111" not in text
    assert "王先生" not in text
    assert other_phone not in text
    assert "138****5678" not in text
    for private in ("linked_details", "linked_reports", "history", "clocks", "assignments"):
        assert private not in shown


async def test_the_first_residents_link_shows_only_their_report_and_the_public_face(
    intake: Harness,
) -> None:
    t1, _ = await handled_twice(intake)
    # The unit still sees everything.
    full = await intake.ticket(t1)
    assert [SECOND_MARK in d["description"] for d in full["linked_details"]] == [True]
    assert any(INTERNAL in e["summary"] for e in full["history"])

    shown = await as_resident(intake, t1)
    assert_nothing_private(shown, SECOND_MARK, SECOND_PHOTO, "13812345678")
    assert (shown["view"], full["view"]) == ("resident", "full")
    assert shown["description"] == FIRST_WORDS
    assert shown["media_urls"] == [FIRST_PHOTO, EVIDENCE]
    assert shown["status"] == "resolved"
    assert shown["units"] == [full["assignments"][0]["unit_name"]]
    assert shown["others_reported"] == 1
    resolution = shown["resolution"]
    assert resolution["evidence_urls"] == [EVIDENCE]
    assert resolution["note"].startswith("已更换玻璃")
    assert "某先生" in resolution["note"]
    texts = [e["text"] for e in shown["timeline"]]
    assert any(t.startswith("已派单") for t in texts)
    assert any("已更换玻璃" in t for t in texts)
    assert EVIDENCE in {e["media_url"] for e in shown["timeline"]}


async def test_the_linked_residents_link_follows_the_ticket_without_the_first_report(
    intake: Harness,
) -> None:
    t1, t2 = await handled_twice(intake)
    shown = await as_resident(intake, t2)
    assert_nothing_private(shown, FIRST_MARK, FIRST_PHOTO, "13912345678")
    assert shown["view"] == "resident"
    assert SECOND_MARK in shown["description"]  # their own words
    assert shown["media_urls"] == [SECOND_PHOTO, EVIDENCE]
    assert shown["linked_to"] == t1
    assert shown["status"] == "resolved"  # the progress of the ticket it joined
    assert shown["resolution"]["evidence_urls"] == [EVIDENCE]
    # The first resident's link does not open the second's report, nor the reverse.
    crossed = await intake.http.get(
        f"/api/v1/tickets/{t2}", params={"token": resident_link_token(t1)}
    )
    assert crossed.status_code == 403


async def test_a_residents_command_answers_with_the_resident_view(intake: Harness) -> None:
    t1, _ = await handled_twice(intake)
    rated = await intake.command(
        t1, "rating", None, {"rating": "满意"}, token=resident_link_token(t1)
    )
    assert rated.status_code == 200, rated.text
    shown = rated.json()
    assert shown["view"] == "resident"
    assert_nothing_private(shown, SECOND_MARK, SECOND_PHOTO, "13812345678")
    # Operators still get the whole record from the same route.
    assert (await intake.http.get(f"/api/v1/tickets/{t1}", headers=OPERATOR)).json()[
        "linked_details"
    ]


async def test_a_resident_cannot_search(intake: Harness) -> None:
    t1 = await intake.submit()
    response = await intake.http.get("/api/v1/tickets", params={"token": resident_link_token(t1)})
    assert response.status_code in (401, 403)
    assert "items" not in response.json()


async def test_the_ticket_read_documents_both_views(intake: Harness) -> None:
    document = (await intake.http.get("/openapi.json")).json()
    answer = document["paths"]["/api/v1/tickets/{ticket_id}"]["get"]["responses"]["200"]
    schema = answer["content"]["application/json"]["schema"]
    refs = {option["$ref"].rsplit("/", 1)[-1] for option in schema["oneOf"]}
    assert refs == {"TicketView", "ResidentTicketView"}
    assert schema["discriminator"]["propertyName"] == "view"


async def test_an_unknown_ticket_is_not_echoed_whole(intake: Harness) -> None:
    # 20,000 characters; a NUL and a right-to-left override, percent-encoded in the path.
    for wanted in ("T" * 20_000, "T2026%00%E2%80%AEgpj.exe"):
        response = await intake.http.get(f"/api/v1/tickets/{wanted}", headers=OPERATOR)
        assert response.status_code == 404
        error = response.json()["error"]
        for message in (error["message_zh"], error["message_en"]):
            assert len(message) < 200
            assert "\x00" not in message
            assert "\u202e" not in message
            assert all(ch.isprintable() for ch in message)
