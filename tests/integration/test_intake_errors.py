"""Every refusal of the native HTTP API comes in one shape,
{"error": {code, message_zh, message_en, field}}, says in both languages what to do, and
names no internal class; Open311 keeps its spec's list of {code, description}."""

from typing import Any

import httpx
import pytest

from support.intake import OPERATOR, Harness, report_body, resident_link_token

GRID = "grid-heyuan"
INTERNAL_NAMES = ("RateTicket", "AcknowledgeTicket", "Ticket is", "Command", "Exception")


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert list(body) == ["error"], body
    error = dict(body["error"])
    assert set(error) == {"code", "message_zh", "message_en", "field"}
    assert error["message_zh"]
    assert error["message_en"]
    assert not any(name in error["message_en"] for name in INTERNAL_NAMES), error
    return error


async def closed_ticket(intake: Harness) -> str:
    ticket_id = await intake.resolved("已更换玻璃", GRID)
    rated = await intake.command(ticket_id, "rating", OPERATOR, {"rating": "satisfied"})
    assert rated.json()["status"] == "closed", rated.text
    return ticket_id


async def test_rating_a_closed_ticket_says_so_in_both_languages(intake: Harness) -> None:
    ticket_id = await closed_ticket(intake)
    again = await intake.command(ticket_id, "rating", OPERATOR, {"rating": "satisfied"})
    assert error_of(again, 409) == {
        "code": "illegal_transition",
        "message_zh": "工单已关闭，不能再评价",
        "message_en": "This ticket is closed and can no longer be rated",
        "field": None,
    }


async def test_a_bad_resident_link_is_not_called_an_api_key(intake: Harness) -> None:
    ticket_id = await intake.submit()
    path = f"/api/v1/tickets/{ticket_id}"
    forged = error_of(await intake.http.get(path, params={"token": "0" * 32}), 403)
    assert forged["code"] == "invalid_link"
    assert "key" not in forged["message_en"].lower()
    assert "链接" in forged["message_zh"]
    other = await intake.submit()
    elsewhere = await intake.http.get(path, params={"token": resident_link_token(other)})
    assert error_of(elsewhere, 403)["code"] in ("invalid_link", "forbidden")
    garbled = await intake.http.get(path, params={"token": "满意\U000da28c"})
    assert error_of(garbled, 403)["code"] == "invalid_link"
    own = await intake.http.get(path, params={"token": resident_link_token(ticket_id)})
    assert own.status_code == 200


async def test_no_key_and_a_wrong_key(intake: Harness) -> None:
    ticket_id = await intake.submit()
    path = f"/api/v1/tickets/{ticket_id}"
    assert error_of(await intake.http.get(path), 401)["code"] == "key_required"
    wrong = await intake.http.get(path, headers={"X-API-Key": "guess"})
    assert error_of(wrong, 403)["code"] == "invalid_key"
    missing = await intake.http.get("/api/v1/tickets/T19990101000001", headers=OPERATOR)
    assert error_of(missing, 404)["code"] == "not_found"


@pytest.mark.parametrize(
    ("body", "field", "zh"),
    [
        ({"description": "长" * 4001}, "description", "太长"),
        ({"location": {"lat": 200, "long": 116.4}}, "location.lat", "不能大于"),
        ({"channel": "pigeon"}, "channel", "只能是以下之一"),
        ({"category": "no_such_thing"}, "category", "没有类别"),
        ({"category": "parking"}, "attributes.vehicle", "请填写附加信息"),
    ],
)
async def test_bad_input_names_the_first_field_and_what_to_fix(
    intake: Harness, body: dict[str, Any], field: str, zh: str
) -> None:
    report = report_body("消防箱玻璃碎了", {"grid_code": "HY-01"})
    error = error_of(await intake.http.post("/api/v1/reports", json=report | body), 422)
    assert error["field"] == field
    assert zh in error["message_zh"]


async def test_a_body_that_is_not_json(intake: Harness) -> None:
    response = await intake.http.post(
        "/api/v1/reports", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert "JSON" in error_of(response, 422)["message_zh"]


async def test_unknown_paths_and_methods(intake: Harness) -> None:
    assert error_of(await intake.http.get("/api/v1/nothing"), 404)["code"] == "not_found"
    wrong = await intake.http.delete("/api/v1/reports")
    assert error_of(wrong, 405)["code"] == "method_not_allowed"
    assert wrong.headers["Allow"] == "POST"


async def test_open311_keeps_its_own_shape(intake: Harness) -> None:
    response = await intake.http.get("/open311/v2/requests/T19990101000001.json")
    assert response.status_code == 404
    assert isinstance(response.json(), list)
    assert set(response.json()[0]) == {"code", "description"}
    wrong = await intake.http.delete("/open311/v2/requests.json")
    assert wrong.status_code == 405
    assert wrong.json()[0]["code"] == 405
    assert wrong.headers["Allow"] == "GET, POST"


async def test_the_openapi_document_describes_the_error_shape(intake: Harness) -> None:
    document = (await intake.http.get("/openapi.json")).json()
    assert set(document["components"]["schemas"]["ErrorDetail"]["properties"]) == {
        "code",
        "message_zh",
        "message_en",
        "field",
    }
    rate = document["paths"]["/api/v1/tickets/{ticket_id}/rating"]["post"]["responses"]
    for status in ("401", "403", "404", "409", "422", "429", "503"):
        schema = rate[status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ErrorResponse"}, (status, schema)
