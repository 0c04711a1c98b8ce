"""Open311 GeoReport v2 as a 311 client sees it: JSON and XML, each error path."""

from xml.etree import ElementTree

import httpx
import pytest

from support.intake import OPEN311_KEY, Harness

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
    assert public["lat"] == pytest.approx(39.9087)
    assert public["media_url"] == "https://img.example.org/a.jpg"
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
        "submitted via open311",
        "dispatched to 和园社区网格站 (lead, community)",
    ]
    assert all(u["status"] == "open" for u in mine)
    later = await intake.http.get(
        "/open311/v2/servicerequestupdates.json", params={"start_date": "2099-01-01T00:00:00Z"}
    )
    assert later.json() == []


async def test_unknown_format_is_404(intake: Harness) -> None:
    assert (await intake.http.get("/open311/v2/services.yaml")).status_code == 404
