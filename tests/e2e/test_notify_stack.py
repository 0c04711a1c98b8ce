"""Story 3 through the services as separate processes, from the resident's side: the
report gets its receipt (受理回执) in the outbox, the dispatch reaches the unit, the
delivery log answers over NATS and on the command line, and no process logs the
resident's number or name."""

import asyncio
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from chuishao.notify.delivery_log import DeliveryLog, ask
from support.intake import STORY_3
from support.servers import Servers
from support.stack import ServiceProcesses, post_report_when_ready, recorded_once_sent

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def notify_stack(
    own_servers: Servers, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcesses]:
    log_dir: Path = tmp_path_factory.mktemp("notify-e2e-logs")
    # Whatever the hour the suite runs at: no quiet hours here (equal start and end).
    with ServiceProcesses(
        own_servers.nats_url,
        own_servers.redis_url,
        log_dir,
        CHUISHAO_QUIET_HOURS_START="00:00",
        CHUISHAO_QUIET_HOURS_END="00:00",
    ) as services:
        yield services


def receipt_ref(log: DeliveryLog) -> str:
    [ref] = {e.recipient for e in log.entries if e.template == "receipt"}
    assert ref.startswith("r_")  # the reporter reference, not the number
    return ref


async def test_the_resident_gets_a_receipt_and_the_delivery_log_shows_it(
    own_servers: Servers, notify_stack: ServiceProcesses
) -> None:
    async with httpx.AsyncClient(base_url=notify_stack.base_url) as client:
        response = await post_report_when_ready(client, STORY_3)
    assert response.status_code == 201, response.text
    ticket_id = response.json()["ticket_id"]

    [receipt] = await recorded_once_sent(own_servers.redis_url, ticket_id)
    assert receipt.template == "receipt"
    assert f"工单编号：{ticket_id}" in receipt.text
    assert receipt.to == "139****5678"

    # The receipt follows intake's event, the dispatch the router's decision: either
    # may be logged first, so wait for both.
    dispatch = ("dispatch", "nats", "sent", "grid-heyuan")
    for _ in range(200):
        log = await ask(own_servers.nats_url, ticket_id)
        logged = {(e.template, e.channel, e.status, e.recipient) for e in log.entries}
        if dispatch in logged:
            break
        await asyncio.sleep(0.05)
    assert ("receipt", "outbox", "sent", receipt_ref(log)) in logged
    assert dispatch in logged
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "chuishao.notify.delivery_log",
        ticket_id,
        env={"CHUISHAO_NATS_URL": own_servers.nats_url},
        stdout=asyncio.subprocess.PIPE,
    )
    printed = (await asyncio.wait_for(process.communicate(), 30))[0].decode()
    assert process.returncode == 0
    assert "receipt" in printed
    assert "sent" in printed
    for name in ("intake", "router", "sla", "notify"):
        assert "13912345678" not in notify_stack.log(name)
        assert "李女士" not in notify_stack.log(name)
