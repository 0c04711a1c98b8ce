"""Learning from dispatchers, on real nats-server and redis-server: a hand dispatch and a
recategorisation each leave a labelled example in the router's Redis list, and the
export writes them as corpus TSV for `make triage-model EXTRA=…`."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext
from redis.asyncio import Redis

from chuishao.common.domain import Priority
from chuishao.common.events import TicketNeedsManualDispatch, TicketRecategorised
from chuishao.common.publishing import publish_event
from chuishao.router import examples
from chuishao.router.service import RouterService
from integration.test_router_service import SHIPPED, ask, eventually, last, report, start, stop
from support.servers import Servers

pytestmark = pytest.mark.usefixtures("clean")
UNSURE = "和园小区这边有个情况想反映一下，麻烦来看看"


@pytest.fixture
async def router(servers: Servers, tmp_path: Path) -> AsyncIterator[RouterService]:
    directory = tmp_path / "directory.toml"
    directory.write_bytes(SHIPPED.read_bytes())
    service = await start(servers, directory)
    yield service
    await stop(service)


async def examples_count(redis: Redis, count: int) -> list[examples.LabelledExample] | None:
    found = await examples.ExampleLog(redis).all()
    return found if len(found) >= count else None


async def test_hand_dispatch_and_recategorisation_are_recorded_and_exported(
    router: RouterService,
    js: JetStreamContext,
    nc: Client,
    redis: Redis,
    servers: Servers,
) -> None:
    ticket = report("T20260105000777", None, UNSURE)
    await publish_event(js, ticket)
    queued = await eventually(
        lambda: last(js, f"ticket.manual_dispatch.{ticket.ticket_id}", TicketNeedsManualDispatch)
    )
    listing = await ask(nc, "qingshi-command", "list", {})
    (entry,) = listing["tickets"]
    assert "suggestions" in entry
    assert len(entry["suggestions"]) <= 3

    command = {
        "ticket_id": ticket.ticket_id,
        "lead": "zhifa-qingshi",
        "category": "oil_fumes_noise",
    }
    assert (await ask(nc, "qingshi-command", "assign", command))["ok"] is True
    (dispatched,) = await eventually(lambda: examples_count(redis, 1))
    assert (dispatched.category, dispatched.who, dispatched.how) == (
        "oil_fumes_noise",
        "qingshi-command",
        "manual_dispatch",
    )
    assert dispatched.text == UNSURE
    # The same assignment retried teaches nothing new.
    await ask(nc, "qingshi-command", "assign", command)

    recategorised = TicketRecategorised.caused_by(
        queued,
        producer="intake",
        occurred_at=queued.occurred_at,
        category="neighbour_dispute",
        priority=Priority.NORMAL,
        changed_by="supervisor-li",
    )
    await publish_event(js, recategorised)
    found = await eventually(lambda: examples_count(redis, 2))
    assert [(e.category, e.who, e.how) for e in found] == [
        ("oil_fumes_noise", "qingshi-command", "manual_dispatch"),
        ("neighbour_dispute", "supervisor-li", "recategorised"),
    ]

    exported = examples.to_tsv(await examples.fetch(servers.redis_url))
    # The latest label of a ticket wins.
    assert exported == f"neighbour_dispute\t0\t-\t{UNSURE}\n"
