"""Past its bounds intake refuses quickly, with Retry-After, and changes nothing."""

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from nats.js import JetStreamContext

from support.intake import Harness, running_intake
from support.servers import Servers

REPORT = {
    "category": "fire_box",
    "description": "消防箱玻璃碎了",
    "channel": "snap_it",
    "location": {"grid_code": "HY-01"},
}


@pytest.fixture
async def tight_intake(
    servers: Servers, js: JetStreamContext, clean: None
) -> AsyncIterator[Harness]:
    async with running_intake(
        servers.nats_url, servers.redis_url, js, max_in_flight=4, per_client_requests_per_minute=60
    ) as harness:
        yield harness


async def test_a_client_over_its_rate_gets_429_with_retry_after(tight_intake: Harness) -> None:
    answers = [await tight_intake.http.post("/api/v1/reports", json=REPORT) for _ in range(12)]
    codes = [a.status_code for a in answers]
    assert codes[:10] == [201] * 10  # a ten-second burst of a 60/min budget
    assert codes[10:] == [429, 429]
    assert int(answers[-1].headers["retry-after"]) >= 1
    assert (await tight_intake.http.get("/health")).status_code == 200  # never limited


async def test_too_many_in_flight_get_503_and_nothing_is_stored(
    tight_intake: Harness, js: JetStreamContext
) -> None:
    before = (await js.stream_info("TICKETS")).state.messages
    keys = [{"X-API-Key": f"client-{n}"} for n in range(40)]  # distinct clients: no 429s
    answers = await asyncio.gather(
        *(tight_intake.http.post("/api/v1/reports", json=REPORT, headers=key) for key in keys)
    )
    codes = [a.status_code for a in answers]
    shed = [a for a in answers if a.status_code == 503]
    assert codes.count(201) + len(shed) == 40
    assert shed, "nothing was shed at 40 concurrent requests with room for 4"
    assert all(a.headers["retry-after"] == "1" for a in shed)
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
