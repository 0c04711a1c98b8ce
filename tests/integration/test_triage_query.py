"""The category suggestion while a form is typed, on real nats-server and redis-server:
the router's `internal.router.triage` answer (its real triage model and danger detector,
the shipped directory), its refusals in the one error shape, and the console's POST
/r/triage that the forms' script calls."""

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext
from redis.asyncio import Redis

from chuishao.common import subjects
from chuishao.common.catalogue import publish_catalogue
from chuishao.common.queries import TRIAGE_MAX_CHARS
from chuishao.common.streams import provision
from chuishao.console.web import suggest
from chuishao.router import triage_query
from chuishao.router.directory_watch import DirectoryWatch
from support.console import running_console
from support.router_queries import ask as ask_router
from support.router_queries import assert_refused, router_responder
from support.servers import Servers

LAMP = "小区门口的路灯坏了好几天，晚上一片漆黑"
GAS = "楼道里一股很浓的燃气味，有个老人晕倒在门口了"


@pytest.fixture
async def router_answers(servers: Servers, js: JetStreamContext) -> AsyncIterator[DirectoryWatch]:
    """The router's triage responder, as its bootstrap registers it, on a broker of its own
    (the whole router is not needed to answer a question)."""

    async def catalogue(watch: DirectoryWatch) -> None:
        await provision(js)
        await publish_catalogue(js, watch.snapshot.catalogue)  # the console names categories

    async with router_responder(
        servers.nats_url, subjects.ROUTER_TRIAGE, triage_query.register, catalogue
    ) as watch:
        yield watch


async def ask(nc: Client, body: bytes) -> dict[str, Any]:
    return await ask_router(nc, subjects.ROUTER_TRIAGE, body)


async def test_the_router_answers_the_typed_words_with_its_best_categories_and_the_danger(
    router_answers: DirectoryWatch, nc: Client
) -> None:
    lamp = await ask(nc, json.dumps({"text": LAMP}).encode())
    assert lamp["ok"] is True
    assert lamp["suggestions"][0]["category"] == "street_light"
    assert lamp["suggestions"][0]["confidence"] > 0.5
    assert 1 <= len(lamp["suggestions"]) <= 3
    served = {c.code for c in router_answers.snapshot.catalogue}
    assert {s["category"] for s in lamp["suggestions"]} <= served
    assert (lamp["danger"], lamp["life_at_risk"], lamp["call"]) == (False, False, [])

    gas = await ask(nc, json.dumps({"text": GAS}).encode())
    assert gas["danger"] is True
    assert gas["life_at_risk"] is True
    assert "119" in gas["call"]
    assert "120" in gas["call"]  # someone is down
    assert gas["message_zh"].endswith(gas["advice_zh"])
    assert "拨打" not in gas["advice_zh"]  # what to do, the numbers said once

    one = await ask(nc, json.dumps({"text": LAMP, "limit": 1}).encode())
    assert len(one["suggestions"]) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (json.dumps({"text": "路" * (TRIAGE_MAX_CHARS + 1)}).encode(), "text"),
        (json.dumps({"text": ""}).encode(), "text"),
        (json.dumps({"text": LAMP, "limit": 99}).encode(), "limit"),
        (json.dumps({"text": LAMP, "phone": "13800138000"}).encode(), "phone"),
        (b"not json", None),
    ],
)
async def test_bad_input_gets_the_one_error_shape(
    router_answers: DirectoryWatch, nc: Client, body: bytes, field: str | None
) -> None:
    assert_refused(await ask(nc, body), field)


async def test_the_console_offers_the_suggestions_by_name_and_the_emergency_line(
    router_answers: DirectoryWatch, servers: Servers
) -> None:
    async with running_console(servers.nats_url, servers.redis_url) as console:
        await console.console.catalogue.loaded.wait()
        headers = await console.resident_form_headers()

        lamp = await console.http.post("/r/triage", json={"text": LAMP}, headers=headers)
        assert lamp.status_code == 200, lamp.text
        first = lamp.json()["suggestions"][0]
        assert (first["category"], first["name"]) == ("street_light", "路灯损坏")
        assert 50 < first["percent"] <= 100
        assert lamp.json()["warning"] is None

        gas = await console.http.post("/r/triage", json={"text": GAS}, headers=headers)
        assert gas.json()["warning"].startswith("如有生命危险请立即拨打 119")
        assert "燃气" in gas.json()["advice"]
        assert "拨打" not in gas.json()["advice"]

        short = await console.http.post("/r/triage", json={"text": "路灯"}, headers=headers)
        assert short.json()["suggestions"] == []  # too few words to say anything

        too_long = await console.http.post("/r/triage", json={"text": "路" * 4001}, headers=headers)
        assert too_long.status_code == 422
        assert too_long.json()["error"]["code"] == "invalid"

        forged = await console.http.post(
            "/r/triage", json={"text": LAMP}, headers={"Accept": "application/json"}
        )
        assert forged.status_code == 403

        # An address that asks faster than anyone types is told to wait, in words.
        short_asks = [
            console.http.post("/r/triage", json={"text": "路灯"}, headers=headers)
            for _ in range(2 * suggest.PER_MINUTE + 5)
        ]
        answers = await asyncio.gather(*short_asks)
        # 128 asks with the three above: however a minute's boundary splits them, two
        # windows let at most 120 through.
        assert [a.status_code for a in answers].count(429) >= 8
        refused = next(a for a in answers if a.status_code == 429)
        assert refused.json()["error"]["message_zh"] == "请求过于频繁，请稍后再试"
        # The budget is the address's, 127.0.0.1 for every test on this Redis: spent
        # here, the place look-up's test in the same minute was refused (-n 2, one worker).
        redis = Redis.from_url(servers.redis_url)
        try:
            await redis.delete(*[key async for key in redis.scan_iter("console:triage:rate:*")])
        finally:
            await redis.aclose()
