"""The points service on real nats-server and redis-server: events published into TICKETS
(one redelivered after its effect) make the ledger once; exchanges never overdraw, not
even concurrent ones; the ledger rebuilt from TICKETS and POINTS equals the live one."""

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from chuishao.common import subjects
from chuishao.common.events import Event, TicketDispatched
from chuishao.common.publishing import publish_event
from chuishao.common.streams import provision
from chuishao.points.bootstrap import PointsService, bootstrap
from chuishao.points.rebuild import compare, replay
from chuishao.points.settings import PointsSettings
from support.points_events import NEIGHBOUR, RESIDENT, accepted, linked, resolved, submitted
from support.servers import Servers


@contextlib.asynccontextmanager
async def running_points(servers: Servers, **overrides: Any) -> AsyncIterator[PointsService]:
    settings = PointsSettings(
        nats_url=servers.nats_url,
        redis_url=servers.redis_url,
        log_level="WARNING",
        **{"points_relay_interval_seconds": 0.2, "points_relay_after_seconds": 0.5} | overrides,
    )
    service = bootstrap(settings)
    async with service.runtime.running():
        yield service


async def until(condition: Callable[[], Any], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


async def caught_up(js: JetStreamContext) -> bool:
    info = await js.consumer_info("TICKETS", "points")
    return bool(info.num_pending == 0 and info.num_ack_pending == 0)


async def ask(nc: Client, subject: str, body: dict[str, Any]) -> dict[str, Any]:
    reply = await nc.request(subject, json.dumps(body).encode(), timeout=5)
    answer: dict[str, Any] = json.loads(reply.data)
    return answer


def exchange(exchange_id: str, points: int, reporter_ref: str = RESIDENT) -> dict[str, Any]:
    return {
        "exchange_id": exchange_id,
        "reporter_ref": reporter_ref,
        "points": points,
        "goods": "洗衣液 1 瓶",
        "centre": "和园社区服务站",
        "person": "clerk-li",
    }


@pytest.mark.usefixtures("clean")
async def test_the_ledger_counts_each_event_once_and_exchanges_never_overdraw(
    servers: Servers, js: JetStreamContext, nc: Client
) -> None:
    async with running_points(servers) as service:
        # The first dispatch's effect is stored, then the handler fails (as if the ack
        # were lost): JetStream delivers it again.
        handle = service.points.on_ticket_event
        failed: list[str] = []

        async def fail_once_after(event: Event) -> None:
            await handle(event)
            if isinstance(event, TicketDispatched) and not failed:
                failed.append(event.event_id)
                raise RuntimeError("ack lost")

        service.points.on_ticket_event = fail_once_after  # type: ignore[method-assign]

        report, duplicate, other = submitted("T1"), submitted("T2"), submitted("T3", NEIGHBOUR)
        events: list[Event] = [
            report,
            accepted(report),
            resolved(report),
            linked(duplicate, lead_ticket_id="T1"),  # never dispatched: earns nothing
            other,
            accepted(other),
        ]
        for event in events:
            await publish_event(js, event)
        # The same resolution stored twice (a relay past the duplicate window).
        again = resolved(report)
        await publish_event(js, again, subject=subjects.for_event(again))
        await js.publish(
            subjects.for_event(again),
            again.model_dump_json().encode(),
            headers={"Nats-Msg-Id": again.event_id + "-relayed"},
        )
        store = service.store
        await until(lambda: caught_up(js))
        assert failed, "the dispatch was redelivered"
        assert await store.balance(RESIDENT) == 15
        assert await store.balance(NEIGHBOUR) == 5
        assert [(e.reason, e.points) for e in await store.history(RESIDENT)] == [
            ("resolved", 10),
            ("accepted", 5),
        ]

        # Too much: refused, nothing taken.
        refused = await ask(nc, subjects.POINTS_EXCHANGE, exchange("ex-too-much", 16))
        assert refused["ok"] is False
        assert refused["error"]["code"] == "insufficient_points"
        # Ten clerks at once, 4 points each, from 15: three get them, the balance is 3.
        answers = await asyncio.gather(
            *(ask(nc, subjects.POINTS_EXCHANGE, exchange(f"ex-rush-{n:02}", 4)) for n in range(10))
        )
        assert sum(answer["ok"] for answer in answers) == 3
        assert await store.balance(RESIDENT) == 3
        granted = next(answer for answer in answers if answer["ok"])
        # A retry of a granted exchange is the same exchange, not a second one.
        retry = await ask(
            nc, subjects.POINTS_EXCHANGE, exchange(granted["exchange"]["event_id"], 4)
        )
        assert retry["ok"] is True
        assert retry["exchange"] == granted["exchange"]
        assert await store.balance(RESIDENT) == 3
        conflict = await ask(
            nc, subjects.POINTS_EXCHANGE, exchange(granted["exchange"]["event_id"], 2)
        )
        assert conflict["error"]["code"] == "conflict"
        invalid = await ask(nc, subjects.POINTS_EXCHANGE, {"reporter_ref": "13800138000"})
        assert invalid["error"]["code"] == "invalid"

        account = await ask(nc, subjects.POINTS_ACCOUNT, {"reporter_ref": RESIDENT, "limit": 3})
        assert account["ok"] is True
        assert account["balance"] == 3
        assert account["daily_cap"] == 30
        assert [line["kind"] for line in account["entries"]] == ["exchanged"] * 3

        # Every exchange is in POINTS; rebuilt from the streams, the ledger is the same.
        points_stream = await js.stream_info("POINTS")
        assert points_stream.state.messages == 3
        rebuilt = await replay(js, service.points.policy)
        assert rebuilt.balances == {RESIDENT: 3, NEIGHBOUR: 5}
        assert not await compare(store, rebuilt)


@pytest.mark.usefixtures("clean")
async def test_an_unconfirmed_exchange_is_relayed_and_a_lost_ledger_is_restored(
    servers: Servers, js: JetStreamContext, nc: Client
) -> None:
    async with running_points(servers) as service:
        report = submitted("T1")
        for event in (report, accepted(report), resolved(report)):
            await publish_event(js, event)
        await until(lambda: caught_up(js))
        points = service.points
        publish = points.publish

        async def unavailable(_event: Any) -> None:
            raise TimeoutError("no PubAck")

        points.publish = unavailable  # type: ignore[method-assign,assignment]
        answer = await ask(nc, subjects.POINTS_EXCHANGE, exchange("ex-relayed", 10))
        assert answer["error"]["code"] == "unavailable"  # the clerk retries, or the relay
        assert await service.store.balance(RESIDENT) == 5
        points.publish = publish  # type: ignore[method-assign]

        async def relayed() -> bool:
            return bool((await js.stream_info("POINTS")).state.messages == 1)

        await until(relayed)
        assert not await compare(service.store, await replay(js, points.policy))
        # Redis forgets the report's ledger: the rebuild says so.
        await service.runtime.redis.delete("points:reporter:" + RESIDENT)
        rebuilt = await replay(js, points.policy)
        difference = await compare(service.store, rebuilt)
        assert difference.balances == {RESIDENT: (0, 5)}
        # Restored from the streams, with the memory of what was applied: an old event
        # stored again changes nothing, a new one counts.
        await service.store.restore(rebuilt, list(rebuilt.exchanges.values()))
        assert not await compare(service.store, await replay(js, points.policy))
        old = resolved(report)
        await js.publish(
            subjects.for_event(old),
            old.model_dump_json().encode(),
            headers={"Nats-Msg-Id": old.event_id + "-again"},
        )
        other = submitted("T4")
        for event in (other, accepted(other)):
            await publish_event(js, event)
        await until(lambda: caught_up(js))
        assert await service.store.balance(RESIDENT) == 10
        assert not await compare(service.store, await replay(js, points.policy))


@pytest.mark.usefixtures("clean")
async def test_the_daily_cap_holds_while_many_reports_are_handled_at_once(
    servers: Servers, js: JetStreamContext
) -> None:
    """The consumer handles different tickets concurrently; the reporter's daily total is
    watched in each transaction, so together they never pass the cap."""
    await provision(js, ())  # the streams; the consumer starts with all of it waiting
    reports = [submitted(f"T{n:02}") for n in range(12)]
    for report in reports:
        for event in (report, accepted(report), resolved(report)):
            await publish_event(js, event)
    async with running_points(servers) as service:
        await until(lambda: caught_up(js))
        store = service.store
        assert await store.balance(RESIDENT) == 30
        assert await store.earned_on(RESIDENT, "2026-01-05") == 30
        lines = await store.history(RESIDENT)
        assert len(lines) == 24  # every award is a line, capped ones with 0 points
        assert sum(line.points for line in lines) == 30
        rebuilt = await replay(js, service.points.policy)
        assert rebuilt.balances[RESIDENT] == 30
        assert rebuilt.earned[(RESIDENT, "2026-01-05")] == 30
