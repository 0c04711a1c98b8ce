"""Where a typed address is placed, on real nats-server and redis-server: the router's
`internal.router.place` answer (the shipped directory's names and aliases, the address
alone), its refusals in the one error shape, and the console's POST /r/place that the
forms' script calls."""

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from chuishao.common import subjects
from chuishao.common.places import publish_places
from chuishao.common.streams import provision
from chuishao.router import place_query
from chuishao.router.directory_watch import DirectoryWatch
from chuishao.router.document import place_names
from support.console import running_console
from support.router_queries import ask as ask_router
from support.router_queries import assert_refused, router_responder
from support.servers import Servers

HEYUAN = "和园小区 3号楼"
NOWHERE = "火星路999号"


@pytest.fixture
async def router_places(servers: Servers, js: JetStreamContext) -> AsyncIterator[DirectoryWatch]:
    """The router's place responder, as its bootstrap registers it, on a broker of its own."""

    async def names(watch: DirectoryWatch) -> None:
        await provision(js)
        await publish_places(js, place_names(watch.snapshot.directory.document))

    async with router_responder(
        servers.nats_url, subjects.ROUTER_PLACE, place_query.register, names
    ) as watch:
        yield watch


async def ask(nc: Client, body: bytes) -> dict[str, Any]:
    return await ask_router(nc, subjects.ROUTER_PLACE, body)


async def test_the_router_places_an_address_by_the_directory_s_aliases_only(
    router_places: DirectoryWatch, nc: Client
) -> None:
    heyuan = await ask(nc, json.dumps({"address": HEYUAN}).encode())
    assert heyuan == {
        "ok": True,
        "found": True,
        "district": "yunxi",
        "street": "qingshi",
        "community": "heyuan",
        "grid": None,
        "found_by": "address",
    }
    grid = await ask(nc, json.dumps({"address": "和园南网格 东门"}).encode())
    assert (grid["community"], grid["grid"]) == ("heyuan", "HY-01")

    # The directory has one district, and would place anything there by default: an
    # address that names no place is still "not found".
    nowhere = await ask(nc, json.dumps({"address": NOWHERE}).encode())
    assert nowhere["ok"] is True
    assert nowhere["found"] is False
    assert (nowhere["street"], nowhere["district"], nowhere["found_by"]) == (None, None, None)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (json.dumps({"address": ""}).encode(), "address"),
        (json.dumps({"address": "路" * 501}).encode(), "address"),
        (json.dumps({"address": HEYUAN, "lat": 30.1}).encode(), "lat"),
        (b"not json", None),
    ],
)
async def test_bad_input_gets_the_one_error_shape(
    router_places: DirectoryWatch, nc: Client, body: bytes, field: str | None
) -> None:
    assert_refused(await ask(nc, body), field)


async def test_the_console_names_the_place_of_a_typed_address(
    router_places: DirectoryWatch, servers: Servers
) -> None:
    async with running_console(servers.nats_url, servers.redis_url) as console:
        await console.console.places.loaded.wait()
        headers = await console.resident_form_headers()

        heyuan = await console.http.post("/r/place", json={"address": HEYUAN}, headers=headers)
        assert heyuan.status_code == 200, heyuan.text
        assert heyuan.json() == {"found": True, "label": "青石街道 · 和园社区"}
        grid = await console.http.post("/r/place", json={"address": "和园南网格"}, headers=headers)
        assert grid.json()["label"] == "青石街道 · 和园社区 · 和园南网格"

        district = await console.http.post("/r/place", json={"address": "云溪区"}, headers=headers)
        assert district.json() == {"found": True, "label": "云溪区"}  # nothing smaller named

        nowhere = await console.http.post("/r/place", json={"address": NOWHERE}, headers=headers)
        assert nowhere.json() == {"found": False, "label": None}
        blank = await console.http.post("/r/place", json={"address": "  "}, headers=headers)
        assert blank.json() == {"found": False, "label": None}

        too_long = await console.http.post(
            "/r/place", json={"address": "路" * 501}, headers=headers
        )
        assert too_long.status_code == 422
        assert too_long.json()["error"]["code"] == "invalid"

        forged = await console.http.post(
            "/r/place", json={"address": HEYUAN}, headers={"Accept": "application/json"}
        )
        assert forged.status_code == 403
