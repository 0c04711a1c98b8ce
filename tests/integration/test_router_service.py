"""The router in-process on real nats-server and redis-server: consuming, idempotence,
declines into the manual queue and out again, read models, reloads, plugins."""

import asyncio
import json
import os
import re
import shutil
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.errors import NoKeysError, NotFoundError
from nats.js.kv import KeyValue

from chuishao.common.catalogue import BUCKET as CATALOGUE
from chuishao.common.clock import ManualClock
from chuishao.common.domain import Channel, DeclineReason, Location, Priority
from chuishao.common.events import (
    Event,
    TicketDeclined,
    TicketDispatched,
    TicketNeedsManualDispatch,
    TicketSubmitted,
    WhistleBlown,
)
from chuishao.common.publishing import encode, event_headers, publish_event
from chuishao.common.units import BUCKET as UNITS
from chuishao.router import manual
from chuishao.router.bootstrap import bootstrap
from chuishao.router.plugins_manager import plugin_manager
from chuishao.router.service import RouterService
from chuishao.router.settings import RouterSettings
from plugins.installer import installed
from support.servers import Servers

pytestmark = pytest.mark.usefixtures("clean")
T = TypeVar("T")
SHIPPED = RouterSettings().directory_file


async def eventually(probe: Callable[[], Awaitable[T | None]], timeout: float = 10.0) -> T:
    for _ in range(int(timeout / 0.02)):
        if (found := await probe()) is not None:
            return found
        await asyncio.sleep(0.02)
    raise AssertionError("the expected state was never reached")


@pytest.fixture
async def directory_file(tmp_path: Path) -> Path:
    path = tmp_path / "directory.toml"
    shutil.copy(SHIPPED, path)
    return path


async def start(servers: Servers, directory_file: Path, **options: Any) -> RouterService:
    settings = RouterSettings(
        nats_url=servers.nats_url,
        redis_url=servers.redis_url,
        directory_file=directory_file,
        directory_poll_seconds=0.05,
    )
    service = bootstrap(settings, clock=ManualClock(), **options)
    await service.runtime.start()
    return service


async def stop(service: RouterService) -> None:
    await service.runtime.stop()


@pytest.fixture
async def router(servers: Servers, directory_file: Path) -> AsyncIterator[RouterService]:
    service = await start(servers, directory_file)
    yield service
    await stop(service)


def report(
    ticket_id: str, category: str | None, description: str, grid: str = "HY-01"
) -> TicketSubmitted:
    return TicketSubmitted.first(
        producer="intake",
        clock=ManualClock(),
        ticket_id=ticket_id,
        category=category,
        description=description,
        priority=Priority.NORMAL,
        channel=Channel.HOTLINE_12345,
        location=Location(grid_code=grid),
    )


async def count(js: JetStreamContext, subject: str) -> int:
    info = await js.stream_info("TICKETS", subjects_filter=subject)
    return sum((info.state.subjects or {}).values())


async def last(js: JetStreamContext, subject: str, model: type[T]) -> T | None:
    try:
        message = await js.get_last_msg("TICKETS", subject)
    except NotFoundError:
        return None
    return model.model_validate_json(message.data or b"")  # type: ignore[attr-defined, no-any-return]


async def dispatched_to(js: JetStreamContext, ticket_id: str, unit_id: str) -> TicketDispatched:
    async def probe() -> TicketDispatched | None:
        found = await last(js, f"ticket.dispatched.{ticket_id}", TicketDispatched)
        return found if found is not None and found.unit_id == unit_id else None

    return await eventually(probe)


async def keys_of(bucket: KeyValue) -> list[str]:
    """nats-py's `keys()` now and then ends its watch before the first key arrives and
    says "no keys found" for a full bucket (seen under CPU load); a second look tells."""
    for _ in range(5):
        try:
            return await bucket.keys()
        except NoKeysError:
            await asyncio.sleep(0.2)
    return await bucket.keys()


async def test_start_up_publishes_the_units_and_the_catalogue(
    router: RouterService, js: JetStreamContext
) -> None:
    units = await js.key_value(UNITS.bucket)
    heyuan = json.loads((await units.get("grid-heyuan")).value or b"")
    assert heyuan == {
        "id": "grid-heyuan",
        "name": "和园社区网格站",
        "kind": "community",
        "level": "community",
        "webhook_url": None,
        "coverage": ["heyuan"],
        "streets": [],  # a community-level unit answers for no street
        "duty_phone": None,  # the directory gives the grid station no phone
    }
    centre = json.loads((await units.get("qingshi-command")).value or b"{}")
    assert centre["streets"] == ["qingshi"]
    assert len(await keys_of(units)) == len(router.snapshot.directory.units)
    catalogue = await js.key_value(CATALOGUE.bucket)
    assert {"fire_box", "traffic_obstruction", "heating"} <= set(await keys_of(catalogue))


async def test_a_redelivered_report_is_not_dispatched_twice(
    router: RouterService, js: JetStreamContext
) -> None:
    ticket = report("T20260105000101", "fire_box", "消防箱玻璃碎了")
    await publish_event(js, ticket)
    dispatch = await dispatched_to(js, ticket.ticket_id, "grid-heyuan")
    assert dispatch.causation_id == ticket.event_id
    # The same event again, past JetStream's de-duplication (a new Nats-Msg-Id).
    headers = event_headers(ticket) | {"Nats-Msg-Id": "replayed-by-ops"}
    await js.publish(f"ticket.submitted.{ticket.ticket_id}", encode(ticket), headers=headers)
    # The consumer works in order: once a later report is routed, the repeat was seen.
    later = report("T20260105000102", "wage_arrears", "拖欠工资")
    await publish_event(js, later)
    await dispatched_to(js, later.ticket_id, "renshe-yunxi")
    assert await count(js, f"ticket.dispatched.{ticket.ticket_id}") == 1


async def test_a_coordination_whistle_reaches_the_stream(
    router: RouterService, js: JetStreamContext
) -> None:
    ticket = report("T20260105000103", "traffic_obstruction", "公交车排队加气堵路", "TY-01")
    await publish_event(js, ticket)

    async def four() -> int | None:
        n = await count(js, f"ticket.dispatched.{ticket.ticket_id}")
        return n if n == 4 else None

    await eventually(four)
    whistle = await last(js, f"ticket.whistle_blown.{ticket.ticket_id}", WhistleBlown)
    assert whistle is not None
    assert set(whistle.units) == {"jiaojing-yunxi", "bus-yunxi", "jinhua-wuye", "grid-taoyuan"}


def declined(cause: Event, unit_id: str, bounces: int) -> TicketDeclined:
    return TicketDeclined.caused_by(
        cause,
        producer="intake",
        occurred_at=cause.occurred_at,
        discriminator=str(bounces),
        unit_id=unit_id,
        reason_code=DeclineReason.NOT_OUR_RESPONSIBILITY,
        bounces=bounces,
    )


async def ask(nc: Client, centre: str, verb: str, body: dict[str, Any]) -> dict[str, Any]:
    reply = await nc.request(manual.subject(centre, verb), json.dumps(body).encode(), timeout=5)
    return json.loads(reply.data)  # type: ignore[no-any-return]


async def test_declines_go_to_the_street_queue_and_out_by_hand(
    router: RouterService, js: JetStreamContext, nc: Client
) -> None:
    ticket = report("T20260105000104", "oil_fumes_noise", "楼下餐馆油烟扰民")
    await publish_event(js, ticket)
    first = await dispatched_to(js, ticket.ticket_id, "zhifa-qingshi")
    await publish_event(js, declined(first, "zhifa-qingshi", 1))
    second = await dispatched_to(js, ticket.ticket_id, "zhifa-yunxi")
    await publish_event(js, declined(second, "zhifa-yunxi", 2))
    queued = await eventually(
        lambda: last(js, f"ticket.manual_dispatch.{ticket.ticket_id}", TicketNeedsManualDispatch)
    )
    assert "declined 2 times" in queued.reason

    listing = await ask(nc, "qingshi-command", "list", {})
    assert listing["ok"] is True
    (entry,) = listing["tickets"]
    assert entry["ticket_id"] == ticket.ticket_id
    assert entry["declined_by"] == ["zhifa-qingshi", "zhifa-yunxi"]
    assert (await ask(nc, "liuan-command", "list", {}))["tickets"] == []

    command = {"ticket_id": ticket.ticket_id, "lead": "zhifa-qingshi", "note": "属于街道执法"}
    assigned = await ask(nc, "qingshi-command", "assign", command)
    assert assigned == {"ok": True, "ticket_id": ticket.ticket_id, "dispatched": ["zhifa-qingshi"]}
    by_hand = await dispatched_to(js, ticket.ticket_id, "zhifa-qingshi")
    assert by_hand.reason == "dispatched by hand by qingshi-command: 属于街道执法"
    assert (await ask(nc, "qingshi-command", "list", {}))["tickets"] == []
    retried = await ask(nc, "qingshi-command", "assign", command)
    assert retried == {"ok": True, "ticket_id": ticket.ticket_id, "dispatched": []}
    refused = await ask(nc, "qingshi-command", "assign", {"ticket_id": "T1", "lead": "x"})
    assert refused["error"]["code"] == "not_found"


async def test_a_changed_directory_is_reloaded_and_republished(
    router: RouterService, js: JetStreamContext, directory_file: Path
) -> None:
    units = await js.key_value(UNITS.bucket)
    text = SHIPPED.read_text(encoding="utf-8")

    def write(version: int, extra: str = "") -> None:
        renamed = text.replace("和园社区网格站", "和园社区网格服务站")
        # Whatever version the shipped file is at, the test's own numbers replace it.
        versioned = re.sub(r"^version = \d+$", f"version = {version}", renamed, count=1, flags=re.M)
        directory_file.write_text(versioned + extra, encoding="utf-8")

    write(3)

    async def renamed() -> str | None:
        name = json.loads((await units.get("grid-heyuan")).value or b"")["name"]
        return name if name == "和园社区网格服务站" else None

    await eventually(renamed)
    assert router.snapshot.directory.version == 3

    write(4, "\n[[units]]\n")
    assert await router.reload("test") is False
    assert router.snapshot.directory.version == 3  # the broken file is refused

    write(5)
    assert signal.getsignal(signal.SIGHUP) not in (signal.SIG_DFL, signal.SIG_IGN)
    os.kill(os.getpid(), signal.SIGHUP)

    async def reloaded() -> int | None:
        version = router.snapshot.directory.version
        return version if version == 5 else None

    await eventually(reloaded)


async def test_a_running_router_serves_an_installed_plugin(
    servers: Servers, directory_file: Path, js: JetStreamContext, tmp_path: Path
) -> None:
    with installed("chuishao-lamps", tmp_path / "site-packages"):
        service = await start(servers, directory_file, manager=plugin_manager())
        try:
            catalogue = await js.key_value(CATALOGUE.bucket)
            assert "courtyard_lamp" in await keys_of(catalogue)
            ticket = report("T20260105000105", "courtyard_lamp", "院里的灯坏了", "SQ-02")
            await publish_event(js, ticket)
            await dispatched_to(js, ticket.ticket_id, "grid-shiqiao")
        finally:
            await stop(service)
