"""schemathesis against the published OpenAPI document, with intake running as its own
process on real servers: no input makes it answer 5xx, and every answer matches the
document (status code, content type, body schema)."""

import asyncio
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote
from xml.etree import ElementTree

import httpx
import nats
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import APIOperation
from schemathesis.checks import negative_data_rejection, positive_data_acceptance
from schemathesis.core.result import Ok

from chuishao.common.catalogue import publish_catalogue
from chuishao.common.streams import provision
from chuishao.common.units import publish_units
from support.intake import CATEGORIES, OPERATOR, UNITS
from support.servers import Servers
from support.stack import ServiceProcesses

pytestmark = pytest.mark.e2e
SCHEMA = Path(__file__).resolve().parents[2] / "schemas" / "openapi.json"
schema = schemathesis.openapi.from_path(SCHEMA)
TRIED: list[int] = []


async def _prepare(nats_url: str) -> None:
    connection = await nats.connect(nats_url)
    js = connection.jetstream()
    await provision(js)
    await publish_catalogue(js, CATEGORIES)
    await publish_units(js, UNITS)
    await connection.close()


@pytest.fixture(scope="module")
def intake_process(
    own_servers: Servers, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcesses]:
    asyncio.run(_prepare(own_servers.nats_url))
    services = ServiceProcesses(
        own_servers.nats_url, own_servers.redis_url, tmp_path_factory.mktemp("fuzz-logs")
    )
    services.start_one("intake")
    services.wait_ready(60)
    yield services
    services.stop()
    print(f"\nschemathesis sent {sum(TRIED)} requests")


# One test per operation, parametrized by pytest rather than by `schema.parametrize()`:
# under pytest 9 its items share one node id, and pytest-xdist would run only one of them.
Operation = APIOperation[Any, Any, Any, Any]


def _operations() -> list[Operation]:
    found = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result  # the published document is valid
        found.append(result.ok())
    return found


OPERATIONS = _operations()


@pytest.mark.parametrize("operation", OPERATIONS, ids=[op.label for op in OPERATIONS])
def test_no_input_breaks_the_api(operation: Operation, intake_process: ServiceProcesses) -> None:
    @settings(
        max_examples=30,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(case=operation.as_strategy())
    def call(case: schemathesis.Case[Any]) -> None:
        TRIED.append(1)
        case.call_and_validate(
            base_url=intake_process.base_url,
            headers=dict(OPERATOR),
            # Schema-valid is not always acceptable (a category must be in the catalogue,
            # a ticket must exist, a transition must be allowed), and query values are
            # parsed leniently (a number is a timestamp). What must hold: no 5xx, and
            # every answer — status, content type, body — is the one the document promises.
            excluded_checks=[positive_data_acceptance, negative_data_rejection],
        )

    call()


# --- hostile values the schema allows (any number, any string): the class of inputs an
# outside probe turned into 5xx answers and a malformed requests.xml. No 5xx, and every
# XML answer parses, whatever is sent.

HOSTILE_NUMBERS = st.sampled_from(
    ["NaN", "-NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1e308", "91", "-180.0001"]
) | st.floats().map(json.dumps)
# Every character but lone surrogates (they cannot be put in a URL or a form at all).
ANY_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=60)
HOSTILE_TEXT = ANY_TEXT | st.builds(
    lambda head, bad, tail: head + bad + tail,
    ANY_TEXT,
    st.sampled_from(["\x00", "\x01", "\x1b", "\x7f", "\x85", "\ufffe", "\uffff"]),
    ANY_TEXT,
)
TICKET_IDS = HOSTILE_TEXT.filter(bool) | st.sampled_from(
    ["seq:20261121", "seq:" + "9" * 8, "T" + "9" * 80, "..", "T20261121000001\n", "ticket:x"]
)
DATES = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)).map(
    datetime.isoformat
) | st.sampled_from(["0001-01-01", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00+14:00"])


def _no_server_error(response: httpx.Response) -> None:
    assert response.status_code < 500, (response.request.url, response.text[:300])
    if "xml" in response.headers.get("content-type", ""):
        ElementTree.fromstring(response.content)  # raises if malformed


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    lat=HOSTILE_NUMBERS,
    long_=HOSTILE_NUMBERS,
    description=HOSTILE_TEXT,
    address=HOSTILE_TEXT,
    answer=HOSTILE_TEXT | st.integers(1, 300_000).map(lambda n: "长" * n),
)
def test_hostile_reports_get_a_4xx_never_a_5xx(
    intake_process: ServiceProcesses,
    lat: str,
    long_: str,
    description: str,
    address: str,
    answer: str,
) -> None:
    report = {
        "category": "parking",
        "description": description,
        "location": {"lat": "LAT", "long": "LONG", "address": address},
        "channel": "snap_it",
        "attributes": {"vehicle": answer},
    }
    body = json.dumps(report).replace('"LAT"', lat).replace('"LONG"', long_)
    with httpx.Client(base_url=intake_process.base_url, timeout=30) as http:
        response = http.post(
            "/api/v1/reports", content=body, headers={"content-type": "application/json"}
        )
        _no_server_error(response)
        form = {"service_code": "fire_box", "lat": lat, "long": long_, "description": description}
        _no_server_error(http.post("/open311/v2/requests.xml", data=form))


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(ticket_id=TICKET_IDS, fmt=st.sampled_from(["json", "xml"]))
def test_any_ticket_id_shape_gets_a_4xx_never_a_5xx(
    intake_process: ServiceProcesses, ticket_id: str, fmt: str
) -> None:
    quoted = quote(ticket_id, safe="")
    with httpx.Client(base_url=intake_process.base_url, timeout=30) as http:
        for url in (f"/open311/v2/requests/{quoted}.{fmt}", f"/open311/v2/tokens/{quoted}.{fmt}"):
            _no_server_error(http.get(url))
        _no_server_error(http.get(f"/api/v1/tickets/{quoted}", headers=dict(OPERATOR)))
        _no_server_error(
            http.get(f"/open311/v2/requests.{fmt}", params={"service_request_id": ticket_id})
        )


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    start=st.none() | DATES,
    end=st.none() | DATES,
    path=st.sampled_from(["requests", "servicerequestupdates"]),
)
def test_any_date_gets_a_4xx_never_a_5xx(
    intake_process: ServiceProcesses, start: str | None, end: str | None, path: str
) -> None:
    params = {k: v for k, v in (("start_date", start), ("end_date", end)) if v is not None}
    with httpx.Client(base_url=intake_process.base_url, timeout=30) as http:
        for fmt in ("json", "xml"):
            _no_server_error(http.get(f"/open311/v2/{path}.{fmt}", params=params))
