"""Past its bounds intake refuses quickly, with Retry-After, and changes nothing."""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from nats.js import JetStreamContext

from chuishao.intake.overload import SHED_RETRY_AFTER_MAX, Admission, ShedLoad
from support.intake import OPERATOR, Harness, auth, running_intake
from support.servers import Servers

REPORT = {
    "category": "fire_box",
    "description": "消防箱玻璃碎了",
    "channel": "snap_it",
    "location": {"grid_code": "HY-01"},
}

UNIT = "grid-heyuan"


def shed_load_of(harness: Harness) -> ShedLoad:
    if harness.app.middleware_stack is None:  # built on the first request otherwise
        harness.app.middleware_stack = harness.app.build_middleware_stack()
    layer = harness.app.middleware_stack
    while not isinstance(layer, ShedLoad):
        layer = layer.app  # type: ignore[attr-defined]
    return layer


@pytest.fixture
async def tight_intake(
    servers: Servers, js: JetStreamContext, clean: None
) -> AsyncIterator[Harness]:
    """Room for 4 in flight, no queue: the fifth concurrent request is shed at once."""
    async with running_intake(
        servers.nats_url, servers.redis_url, js, max_in_flight=4, response_budget_ms=0
    ) as harness:
        yield harness


@pytest.fixture
async def limited_intake(
    servers: Servers, js: JetStreamContext, clean: None
) -> AsyncIterator[Harness]:
    """60 requests a minute per client (a burst of 10), with the shipped shedding (which
    never sheds requests sent one at a time). The buckets' clock stands still: no token
    comes back while the test runs, however slow the machine."""
    async with running_intake(
        servers.nats_url,
        servers.redis_url,
        js,
        per_client_requests_per_minute=60,
        max_in_flight=64,
        response_budget_ms=400,
    ) as harness:
        buckets = shed_load_of(harness).buckets
        assert buckets is not None
        now = time.monotonic()
        buckets.clock = lambda: now
        yield harness


async def test_a_client_over_its_rate_gets_429_with_retry_after(limited_intake: Harness) -> None:
    # A ten-second burst of a 60/min budget, then one more a second: on a loaded machine
    # the requests themselves take seconds, so the refill while they run is counted.
    started = time.monotonic()
    answers: list[httpx.Response] = []
    while len(answers) < 50:
        answers.append(await limited_intake.http.post("/api/v1/reports", json=REPORT))
        if answers[-1].status_code != 201:
            break
    elapsed = time.monotonic() - started
    codes = [a.status_code for a in answers]
    assert codes[-1] == 429
    assert set(codes[:-1]) == {201}
    assert 10 <= len(codes) - 1 <= 10 + int(elapsed) + 1
    assert int(answers[-1].headers["retry-after"]) >= 1
    assert answers[-1].json()["error"]["code"] == "rate_limited"  # the one error shape
    assert "Retry-After" in answers[-1].json()["error"]["message_zh"]
    assert (await limited_intake.http.get("/health")).status_code == 200  # never limited


async def test_too_many_in_flight_get_503_and_nothing_is_stored(
    tight_intake: Harness, js: JetStreamContext
) -> None:
    before = (await js.stream_info("TICKETS")).state.messages
    answers = await asyncio.gather(
        *(tight_intake.http.post("/api/v1/reports", json=REPORT) for _ in range(40))
    )
    codes = [a.status_code for a in answers]
    shed = [a for a in answers if a.status_code == 503]
    assert codes.count(201) + len(shed) == 40
    assert shed, "nothing was shed at 40 concurrent requests with room for 4"
    assert all(1 <= int(a.headers["retry-after"]) <= SHED_RETRY_AFTER_MAX for a in shed)
    assert all(a.json()["error"]["code"] == "unavailable" for a in shed)
    after = (await js.stream_info("TICKETS")).state.messages
    assert after - before == codes.count(201)


async def test_shedding_ends_when_the_load_does(tight_intake: Harness) -> None:
    transport = tight_intake.http
    await asyncio.gather(
        *(
            transport.post("/api/v1/reports", json=REPORT, headers={"X-API-Key": f"c{n}"})
            for n in range(20)
        )
    )
    later = await transport.post("/api/v1/reports", json=REPORT, headers={"X-API-Key": "late"})
    assert later.status_code == 201
    assert isinstance(transport, httpx.AsyncClient)


async def test_a_made_up_key_per_request_is_limited_by_address(limited_intake: Harness) -> None:
    """A key nobody issued buys no budget of its own: the requests count against the
    caller's address (keying on any X-API-Key sent let a new key per request through)."""
    answers = [
        await limited_intake.http.post(
            "/api/v1/reports", json=REPORT, headers={"X-API-Key": f"made-up-{uuid.uuid4()}"}
        )
        for _ in range(12)
    ]
    assert [a.status_code for a in answers][10:] == [429, 429]
    bearer = await limited_intake.http.post(
        "/api/v1/reports", json=REPORT, headers={"Authorization": f"Bearer {uuid.uuid4()}"}
    )
    assert bearer.status_code == 429


async def test_a_valid_key_has_its_own_budget(limited_intake: Harness) -> None:
    anonymous = [await limited_intake.http.post("/api/v1/reports", json=REPORT) for _ in range(11)]
    assert anonymous[-1].status_code == 429  # this address has spent its burst
    # Issued keys, from the same address: each holder has a budget of its own.
    as_operator = [
        await limited_intake.http.post("/api/v1/reports", json=REPORT, headers=OPERATOR)
        for _ in range(10)
    ]
    assert [a.status_code for a in as_operator] == [201] * 10
    over = await limited_intake.http.post("/api/v1/reports", json=REPORT, headers=OPERATOR)
    assert over.status_code == 429
    unit = await limited_intake.http.get("/api/v1/tickets/T20260101000001", headers=auth(UNIT))
    assert unit.status_code != 429


async def test_shedding_answers_503_in_the_error_shape_with_retry_after(
    tight_intake: Harness,
) -> None:
    answers = await asyncio.gather(
        *(tight_intake.http.post("/api/v1/reports", json=REPORT) for _ in range(20)),
        *(tight_intake.http.get("/open311/v2/services.json") for _ in range(20)),
    )
    native = [a for a in answers[:20] if a.status_code == 503]
    open311 = [a for a in answers[20:] if a.status_code == 503]
    assert native, "nothing shed at 40 concurrent requests with room for 4"
    for answer in native:
        assert 1 <= int(answer.headers["retry-after"]) <= SHED_RETRY_AFTER_MAX
        error = answer.json()["error"]
        assert error["code"] == "unavailable"
        assert error["message_zh"]
        assert error["message_en"]
    for answer in open311:  # Open311 keeps its spec's shape
        assert 1 <= int(answer.headers["retry-after"]) <= SHED_RETRY_AFTER_MAX
        assert answer.json()[0]["code"] == 503


async def test_past_the_in_flight_bound_requests_queue_within_the_budget(
    servers: Servers, js: JetStreamContext, clean: None
) -> None:
    """Two in flight and a generous queue budget: 20 at once all get through (they wait
    their turn instead of being refused because two others were busy)."""
    async with running_intake(
        servers.nats_url, servers.redis_url, js, max_in_flight=2, response_budget_ms=30_000
    ) as harness:
        answers = await asyncio.gather(
            *(harness.http.post("/api/v1/reports", json=REPORT) for _ in range(20))
        )
        assert [a.status_code for a in answers] == [201] * 20
        assert shed_load_of(harness).admission.in_flight == 0


async def test_a_waiter_past_the_budget_is_refused_and_the_queue_is_fifo() -> None:
    admission = Admission(limit=1, budget_s=0.2)
    assert await admission.acquire()  # the one slot, held
    assert not await admission.acquire()  # waited the whole budget, never got the slot
    first = asyncio.create_task(admission.acquire())
    second = asyncio.create_task(admission.acquire())
    for _ in range(100):  # until both are queued, in order
        if admission.waiting == 2:
            break
        await asyncio.sleep(0)
    admission.release(0.01)
    assert await first  # the slot went to the oldest waiter, not to a newcomer
    assert admission.in_flight == 1
    assert not await second  # still held: the second ran out of budget
    admission.release(0.01)
    assert admission.in_flight == 0


async def test_a_newcomer_that_would_wait_past_the_budget_is_refused_on_arrival() -> None:
    admission = Admission(limit=1, budget_s=10.0)
    admission.hold_s = 30.0  # each request holds its slot far longer than the budget
    assert await admission.acquire()
    started = asyncio.get_running_loop().time()
    assert not await admission.acquire()
    assert asyncio.get_running_loop().time() - started < 5, "it waited instead"


async def test_slow_work_lowers_the_bound_on_requests_in_flight() -> None:
    admission = Admission(limit=16, budget_s=0.4)
    for _ in range(16):
        assert await admission.acquire()
    admission.release(0.3)  # work that takes over half the budget: fewer at once
    assert admission.limit == 12
    assert admission.in_flight == 15
    assert not await admission.acquire()  # no slot frees up within what the budget leaves
    while admission.in_flight:
        admission.release(0.01)
    assert admission.limit >= admission.floor
