"""Open311 GeoReport v2 as a 311 client sees it: JSON and XML, each error path."""

import asyncio
from xml.etree import ElementTree

import httpx
import pytest

from support.intake import OPEN311_KEY, Harness, auth

FORM = {
    "api_key": OPEN311_KEY,
    "service_code": "fire_box",
    "lat": "39.9087",
    "long": "116.3975",
    "description": "消防箱玻璃碎了",
    "first_name": "明",
    "last_name": "王",
    "phone": "13600001234",
    "media_url": "https://img.example.org/a.jpg",
}


async def post(intake: Harness, fmt: str = "json", **changes: str) -> httpx.Response:
    return await intake.http.post(f"/open311/v2/requests.{fmt}", data=FORM | changes)


def xml(response: httpx.Response) -> ElementTree.Element:
    assert response.headers["content-type"].startswith("text/xml")
    return ElementTree.fromstring(response.content)


async def test_services_list_the_catalogue_in_json_and_xml(intake: Harness) -> None:
    services = (await intake.http.get("/open311/v2/services.json")).json()
    by_code = {s["service_code"]: s for s in services}
    assert by_code["fire_box"] == {
        "service_code": "fire_box",
        "service_name": "消防箱损坏",
        "description": "Fire box broken",
        "metadata": False,
        "type": "realtime",
        "keywords": "消防箱",
        "group": "facility",
    }
    assert by_code["parking"]["metadata"] is True
    root = xml(await intake.http.get("/open311/v2/services.xml"))
    assert root.tag == "services"
    assert {s.findtext("service_code") for s in root.findall("service")} == set(by_code)


async def test_a_service_definition_lists_its_attributes(intake: Harness) -> None:
    definition = (await intake.http.get("/open311/v2/services/parking.json")).json()
    [attribute] = definition["attributes"]
    assert attribute["code"] == "vehicle"
    assert attribute["datatype"] == "singlevaluelist"
    assert attribute["required"] is True
    assert {"key": "ebike", "name": "电动车"} in attribute["values"]
    root = xml(await intake.http.get("/open311/v2/services/parking.xml"))
    assert root.tag == "service_definition"
    assert root.find("attributes/attribute/values/value/key") is not None
    missing = await intake.http.get("/open311/v2/services/nope.json")
    assert missing.status_code == 404
    assert missing.json() == [{"code": 404, "description": "no service_code nope"}]


async def test_post_creates_a_request_and_reads_show_no_personal_data(intake: Harness) -> None:
    response = await post(intake)
    assert response.status_code == 201, response.text
    [created] = response.json()
    request_id = created["service_request_id"]

    [public] = (await intake.http.get(f"/open311/v2/requests/{request_id}.json")).json()
    assert public["status"] == "open"
    assert public["service_code"] == "fire_box"
    assert public["service_name"] == "消防箱损坏"
    assert (public["lat"], public["long"]) == (round(39.9087, 3), round(116.3975, 3))  # ~100 m
    assert public["media_url"] is None  # the resident's photo is not public
    assert public["requested_datetime"].endswith("+00:00")
    text = str(public)
    assert "13600001234" not in text
    assert "王" not in text
    assert (await intake.ticket(request_id))["channel"] == "open311"

    root = xml(await intake.http.get(f"/open311/v2/requests/{request_id}.xml"))
    assert root.findtext("request/service_request_id") == request_id
    [token] = (await intake.http.get(f"/open311/v2/tokens/{request_id}.json")).json()
    assert token == {"service_request_id": request_id, "token": request_id}


async def test_post_accepts_the_api_key_in_the_query_and_xml_replies(intake: Harness) -> None:
    data = {k: v for k, v in FORM.items() if k != "api_key"}
    response = await intake.http.post(
        "/open311/v2/requests.xml", data=data, params={"api_key": OPEN311_KEY}
    )
    assert response.status_code == 201
    assert xml(response).findtext("request/service_request_id", "").startswith("T")


@pytest.mark.parametrize(
    ("changes", "status", "description"),
    [
        ({"api_key": "wrong"}, 403, "api_key is missing or not valid"),
        ({"api_key": ""}, 403, "api_key is missing or not valid"),
        ({"service_code": ""}, 400, "service_code is required"),
        ({"service_code": "nope"}, 404, "no service_code nope"),
        ({"lat": "", "long": ""}, 400, "give a location"),
        ({"long": ""}, 400, "lat and long must be given together"),
        ({"lat": "91"}, 400, "location.lat"),
        ({"phone": "12"}, 400, "reporter.phone"),
        ({"description": "长" * 4001}, 400, "description"),
        ({"service_code": "parking"}, 400, "attribute[vehicle]"),
    ],
)
async def test_post_errors_are_lists_with_the_spec_codes(
    intake: Harness, changes: dict[str, str], status: int, description: str
) -> None:
    response = await post(intake, **changes)
    assert response.status_code == status
    [error] = response.json()
    assert error["code"] == status
    assert description in error["description"]
    root = xml(await post(intake, "xml", **changes))
    assert root.tag == "errors"
    assert root.findtext("error/code") == str(status)


async def test_attributes_including_multi_values(intake: Harness) -> None:
    response = await post(intake, service_code="parking", **{"attribute[vehicle]": "ebike"})
    assert response.status_code == 201, response.text
    bad = await post(intake, service_code="parking", **{"attribute[vehicle]": "tank"})
    assert bad.status_code == 400


async def test_get_requests_filters(intake: Harness) -> None:
    first = (await post(intake)).json()[0]["service_request_id"]
    second = (await post(intake, service_code="bus_obstruction")).json()[0]["service_request_id"]
    listing = (await intake.http.get("/open311/v2/requests.json")).json()
    assert {r["service_request_id"] for r in listing} == {first, second}
    by_code = await intake.http.get(
        "/open311/v2/requests.json", params={"service_code": "bus_obstruction"}
    )
    assert [r["service_request_id"] for r in by_code.json()] == [second]
    by_id = await intake.http.get(
        "/open311/v2/requests.json",
        params={"service_request_id": first, "service_code": "bus_obstruction"},
    )
    assert [r["service_request_id"] for r in by_id.json()] == [first]  # ids override
    empty_params = await intake.http.get(
        "/open311/v2/requests.json", params={"service_code": "", "status": "", "start_date": ""}
    )
    assert len(empty_params.json()) == 2
    assert (
        await intake.http.get("/open311/v2/requests.json", params={"status": "closed"})
    ).json() == []
    too_wide = await intake.http.get(
        "/open311/v2/requests.json",
        params={"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"},
    )
    assert too_wide.status_code == 400
    assert "90 days" in too_wide.json()[0]["description"]
    bad_date = await intake.http.get("/open311/v2/requests.json", params={"end_date": "soon"})
    assert bad_date.status_code == 400
    root = xml(await intake.http.get("/open311/v2/requests.xml"))
    assert len(root.findall("request")) == 2
    missing = await intake.http.get("/open311/v2/requests/T19990101000001.json")
    assert missing.status_code == 404


async def test_service_request_updates_since_a_time(intake: Harness) -> None:
    request_id = (await post(intake)).json()[0]["service_request_id"]
    await intake.dispatch(request_id, "grid-heyuan")
    updates = (await intake.http.get("/open311/v2/servicerequestupdates.json")).json()
    mine = [u for u in updates if u["service_request_id"] == request_id]
    assert [u["description"] for u in mine][:2] == [
        "已受理 Received",
        "已派单 Sent to the responsible unit",
    ]
    assert all(u["status"] == "open" for u in mine)
    later = await intake.http.get(
        "/open311/v2/servicerequestupdates.json", params={"start_date": "2099-01-01T00:00:00Z"}
    )
    assert later.json() == []


async def test_unknown_format_is_404(intake: Harness) -> None:
    assert (await intake.http.get("/open311/v2/services.yaml")).status_code == 404


# What a read without a key must never show: the resident's words, address, photo and
# phone, a unit's internal note (a name and a phone number in it).
INTERNAL_NOTE = "已电话联系王先生 13700001111"
PUBLIC_NOTE = "已安排维修人员，明天上午更换玻璃"
PRIVATE = ("王先生", "13700001111", "楼道里消防箱", "13912345678", "3号楼2单元", "img.example.org")


async def test_reads_without_a_key_show_only_the_public_fields(intake: Harness) -> None:
    ticket_id = await intake.submit(
        description="楼道里消防箱玻璃碎了",
        location={"lat": 39.90874, "long": 116.39752, "address": "和园小区3号楼2单元501"},
        media_urls=["https://img.example.org/door.jpg"],
    )
    await intake.dispatch(ticket_id, "grid-heyuan")
    for note in ({"note": INTERNAL_NOTE}, {"note": PUBLIC_NOTE, "public": True}):
        noted = await intake.command(ticket_id, "notes", auth("grid-heyuan"), note)
        assert noted.status_code == 200, noted.text
    # A sign-off is public, but a number or a surname typed into it is not.
    assert (await intake.command(ticket_id, "acknowledge", auth("grid-heyuan"))).status_code == 200
    resolved = await intake.command(
        ticket_id,
        "resolve",
        auth("grid-heyuan"),
        {"note": "玻璃已更换，已电话告知王先生 13700001111"},
    )
    assert resolved.status_code == 200, resolved.text
    record = await intake.ticket(ticket_id)  # units and operators still read it whole
    assert any(INTERNAL_NOTE in entry["summary"] for entry in record["history"])

    reads = [f"/open311/v2/requests/{ticket_id}.{fmt}" for fmt in ("json", "xml")] + [
        f"/open311/v2/{path}.{fmt}"
        for path in ("requests", "servicerequestupdates")
        for fmt in ("json", "xml")
    ]
    bodies = [(await intake.http.get(path)).text for path in reads]
    by_id = await intake.http.get(
        "/open311/v2/requests.json", params={"service_request_id": ticket_id}
    )
    bodies.append(by_id.text)
    for body in bodies:
        for secret in PRIVATE:
            assert secret not in body, (secret, body)

    [row] = by_id.json()
    assert row["service_request_id"] == ticket_id
    assert (row["status"], row["service_code"], row["agency_responsible"]) == (
        "closed",
        "fire_box",
        "和园社区网格站",
    )
    assert (row["lat"], row["long"]) == (39.909, 116.398)
    assert row["description"] is None
    assert row["address"] is None
    updates = (await intake.http.get("/open311/v2/servicerequestupdates.json")).json()
    said = [u["description"] for u in updates]
    assert PUBLIC_NOTE in said
    assert any("玻璃已更换" in text and "137****1111" in text for text in said), said
    assert "玻璃已更换" in row["status_notes"]


async def test_reads_are_capped(intake: Harness) -> None:
    ids = [f"T20260101{n:06d}" for n in range(1, 52)]
    too_many = await intake.http.get(
        "/open311/v2/requests.json", params={"service_request_id": ",".join(ids)}
    )
    assert too_many.status_code == 400
    [error] = too_many.json()
    assert error["code"] == 400
    assert "at most 50" in error["description"]
    fifty = await intake.http.get(
        "/open311/v2/requests.xml", params={"service_request_id": ",".join(ids[:50])}
    )
    assert fifty.status_code == 200

    limit = asyncio.Semaphore(16)

    async def one() -> str:
        async with limit:
            return await intake.submit()

    await asyncio.gather(*(one() for _ in range(201)))
    listing = await intake.http.get("/open311/v2/requests.json")
    assert listing.status_code == 200
    assert len(listing.json()) == 200
    updates = await intake.http.get("/open311/v2/servicerequestupdates.json")
    assert len(updates.json()) == 200
