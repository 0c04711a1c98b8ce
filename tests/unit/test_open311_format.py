"""The Open311 format is checked once (a dependency) and every Open311 refusal is answered
in the format asked for, without a route catching it (chuishao.intake.open311)."""

from collections.abc import AsyncIterator
from types import SimpleNamespace
from xml.etree import ElementTree

import httpx
import pytest
from fastapi import FastAPI

from chuishao.common.clock import ManualClock
from chuishao.intake.open311 import router
from chuishao.intake.open311.routes import services


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    app.include_router(router)
    # Only what the refusals below reach before any store is read.
    app.state.intake = SimpleNamespace(clock=ManualClock(), catalogue=SimpleNamespace())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://open311") as http:
        yield http


@pytest.mark.parametrize(
    "path",
    [
        "/open311/v2/services.yaml",
        "/open311/v2/services/parking.yaml",
        "/open311/v2/requests.yaml",
        "/open311/v2/requests/T20261121000001.yaml",
        "/open311/v2/tokens/T20261121000001.yaml",
        "/open311/v2/servicerequestupdates.yaml",
    ],
)
async def test_every_route_refuses_an_unknown_format_in_json(
    client: httpx.AsyncClient, path: str
) -> None:
    answer = await client.get(path)
    assert answer.status_code == 404
    assert answer.json() == [
        {"code": 404, "description": "unknown format .yaml; use .json or .xml"}
    ]
    assert (await client.post("/open311/v2/requests.yaml")).status_code == 404


async def test_a_refusal_is_answered_in_the_format_asked_for(client: httpx.AsyncClient) -> None:
    answer = await client.get("/open311/v2/requests.xml", params={"start_date": "yesterday"})
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("text/xml")
    error = ElementTree.fromstring(answer.content).find("error")
    assert error is not None
    assert error.findtext("code") == "400"
    assert "start_date must be a W3C datetime" in (error.findtext("description") or "")
    wrong_id = await client.get("/open311/v2/requests/no%20such%20id.json")
    assert wrong_id.status_code == 404
    assert wrong_id.json()[0]["description"].startswith("service_request_id is not")


def test_no_route_checks_the_format_itself() -> None:
    """The check that was written seven times lives in one dependency."""
    assert "fmt" in services.__annotations__
    assert services.__annotations__["fmt"].__metadata__[0].dependency.__name__ == "_format"
