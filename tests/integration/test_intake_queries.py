"""notify asks intake how to reach a reporter, over NATS request/reply."""

from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI
from nats.aio.client import Client
from nats.js import JetStreamContext

from chuishao.common import subjects
from chuishao.common.commands import SubmitReport
from chuishao.common.queries import ReporterContact, ReporterContactQuery
from support.intake import fire_box_intake
from support.servers import Servers

pytestmark = pytest.mark.usefixtures("clean")


@pytest.fixture
async def intake(servers: Servers, js: JetStreamContext) -> AsyncIterator[FastAPI]:
    async with fire_box_intake(servers.nats_url, servers.redis_url, js) as app:
        yield app


async def ask(nc: Client, ticket_id: str) -> bytes:
    query = ReporterContactQuery(ticket_id=ticket_id).model_dump_json().encode()
    return (await nc.request(subjects.REPORTER_CONTACT, query, timeout=5)).data


async def test_the_reporter_contact_comes_from_the_ticket_record(
    intake: FastAPI, nc: Client
) -> None:
    command = SubmitReport.model_validate(
        {
            "category": "fire_box",
            "description": "消防箱玻璃碎了",
            "location": {"grid_code": "HY-01"},
            "channel": "snap_it",
            "reporter": {"name": "王先生", "phone": "13700001111"},
        }
    )
    submitted = await intake.state.intake.submit(command)
    contact = ReporterContact.model_validate_json(await ask(nc, submitted.ticket_id))
    assert (contact.phone, contact.name, contact.opted_out) == ("13700001111", "王先生", False)

    await intake.state.intake.store.set_opted_out("13700001111", True)
    contact = ReporterContact.model_validate_json(await ask(nc, submitted.ticket_id))
    assert contact.opted_out


async def test_an_unknown_ticket_gets_an_empty_answer(intake: FastAPI, nc: Client) -> None:
    assert await ask(nc, "T19990101000001") == b""
