"""The NATS request subjects for in-house systems: same use cases, replies in the one
error shape, answered only on the caller's own inbox."""

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import nats
import pytest
from nats.aio.client import Client

from chuishao.common import publishing
from chuishao.common.events import Event
from chuishao.common.replies import unit_inbox_prefix
from support.intake import Harness
from support.servers import Servers

UnitClient = Callable[[str], Awaitable[Client]]


async def request(nc: Client, subject: str, body: object, **headers: str) -> dict[str, Any]:
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    reply = await nc.request(subject, payload, timeout=5, headers=headers or None)
    return dict(json.loads(reply.data))


@pytest.fixture
async def unit_nc(servers: Servers) -> AsyncIterator[UnitClient]:
    """A unit's client, as departments are told to connect: replies under its own inbox."""
    opened: list[Client] = []

    async def connect(unit_id: str) -> Client:
        opened.append(await nats.connect(servers.nats_url, inbox_prefix=unit_inbox_prefix(unit_id)))
        return opened[-1]

    yield connect
    for client in opened:
        await client.close()


REPORT = {
    "category": "fire_box",
    "description": "消防箱玻璃碎了",
    "channel": "hotline_12345",
    "location": {"address": "和园小区 A-160"},
}
ERROR_FIELDS = {"code", "message_zh", "message_en", "field"}


def refusal(reply: dict[str, Any]) -> dict[str, Any]:
    """The error of a refused request, checked to be in the one shape and nothing more."""
    assert reply["ok"] is False, reply
    assert set(reply) == {"ok", "error"}, reply
    error: dict[str, Any] = reply["error"]
    assert set(error) == ERROR_FIELDS, error
    assert error["message_zh"], error
    assert error["message_en"], error
    return error


async def test_submit_over_nats_with_idempotency(intake: Harness, nc: Client) -> None:
    first = await request(nc, "cmd.submit", REPORT, **{"Idempotency-Key": "cti-42"})
    again = await request(nc, "cmd.submit", REPORT, **{"Idempotency-Key": "cti-42"})
    assert first["ok"] is True
    assert first["created"] is True
    assert (again["ticket_id"], again["created"]) == (first["ticket_id"], False)


async def test_bad_submits_get_errors_in_the_one_shape(intake: Harness, nc: Client) -> None:
    invalid = refusal(await request(nc, "cmd.submit", REPORT | {"description": ""}))
    assert (invalid["code"], invalid["field"]) == ("invalid", "description")
    garbled = refusal(await request(nc, "cmd.submit", b"{not json"))
    assert garbled["code"] == "invalid"
    unknown = refusal(await request(nc, "cmd.submit", REPORT | {"category": "nope"}))
    assert (unknown["code"], unknown["field"]) == ("unknown_category", "category")
    assert "nope" in unknown["message_zh"]


async def test_a_unit_command_over_nats(intake: Harness, unit_nc: UnitClient, nc: Client) -> None:
    ticket_id = await intake.submit()
    await intake.dispatch(ticket_id, "grid-heyuan")
    unit = await unit_nc("grid-heyuan")
    reply = await request(unit, "cmd.unit.grid-heyuan.acknowledge", {"ticket_id": ticket_id})
    assert reply["ok"] is True
    assert reply["ticket"]["status"] == "in_progress"
    again = refusal(
        await request(unit, "cmd.unit.grid-heyuan.acknowledge", {"ticket_id": ticket_id})
    )
    assert again["code"] == "illegal_transition"
    nothing = refusal(await request(unit, "cmd.unit.grid-heyuan.fly", {"ticket_id": ticket_id}))
    assert nothing["code"] == "unknown_verb"
    bad = refusal(await request(unit, "cmd.unit.grid-heyuan.resolve", {"ticket_id": ticket_id}))
    assert (bad["code"], bad["field"]) == ("invalid", "note")


async def test_a_refusal_tells_a_stranger_nothing(intake: Harness, unit_nc: UnitClient) -> None:
    """A unit the ticket was never sent to learns neither its status nor its version, nor
    even that it exists: the answer is the one for a ticket that does not exist."""
    ticket_id = await intake.submit()
    await intake.dispatch(ticket_id, "grid-heyuan")
    owner, stranger = await unit_nc("grid-heyuan"), await unit_nc("bus-yunxi")
    await request(owner, "cmd.unit.grid-heyuan.acknowledge", {"ticket_id": ticket_id})
    missing_id = "T19990101000001"
    for verb, body in (
        ("acknowledge", {}),
        ("acknowledge", {"expected_version": 1}),
        ("resolve", {"note": "x"}),
        ("notes", {"note": "x", "expected_version": 99}),
    ):
        subject = f"cmd.unit.bus-yunxi.{verb}"
        theirs = await request(stranger, subject, {"ticket_id": ticket_id, **body})
        nobodys = await request(stranger, subject, {"ticket_id": missing_id, **body})
        assert refusal(theirs)["code"] == "not_found"
        assert json.dumps(theirs, ensure_ascii=False).replace(ticket_id, missing_id) == (
            json.dumps(nobodys, ensure_ascii=False)
        )
        said = json.dumps(theirs, ensure_ascii=False)
        for detail in ("in_progress", "处置", "version"):
            assert detail not in said


async def test_a_command_is_answered_only_on_the_callers_inbox(
    intake: Harness, unit_nc: UnitClient, nc: Client
) -> None:
    """The probe's attack on intake itself: a unit's own command naming as reply subject
    another unit's feed or inbox, the ticket stream, or a KV entry. Intake neither runs
    it nor publishes anything there; a reply on the unit's inbox still gets its answer."""
    ticket_id = await intake.submit()
    await intake.dispatch(ticket_id, "grid-heyuan")
    js = nc.jetstream()
    units_kv, catalogue_kv = await js.key_value("units"), await js.key_value("catalogue")
    kv_before = [(await units_kv.get("grid-heyuan")).revision]
    kv_before.append((await catalogue_kv.get("fire_box")).revision)
    tickets_before = (await js.stream_info("TICKETS")).state.messages
    spies = [
        await nc.subscribe(subject)
        for subject in ("dept.bus-yunxi.>", "ticket.submitted.>", "$KV.>", "_INBOX.bus-yunxi.>")
    ]
    await nc.flush()
    unit = await unit_nc("grid-heyuan")
    body = json.dumps({"ticket_id": ticket_id}).encode()
    for reply in (
        "dept.bus-yunxi.dispatched.FORGED",
        "ticket.submitted.FORGED",
        "$KV.units.grid-heyuan",
        "$KV.catalogue.fire_box",
        "_INBOX.bus-yunxi.FORGED",
        "_INBOX",
    ):
        await unit.publish("cmd.unit.grid-heyuan.acknowledge", body, reply=reply)
    await unit.publish("cmd.unit.grid-heyuan.acknowledge", body)  # no reply subject at all
    await unit.flush()
    # Had any of those run, this acknowledge would be refused as a repeat.
    answer = await request(unit, "cmd.unit.grid-heyuan.acknowledge", {"ticket_id": ticket_id})
    assert answer["ok"] is True, answer
    await nc.flush()
    assert [spy.pending_msgs for spy in spies] == [0, 0, 0, 0]
    kv_after = [(await units_kv.get("grid-heyuan")).revision]
    kv_after.append((await catalogue_kv.get("fire_box")).revision)
    assert kv_after == kv_before
    acknowledged = 1  # the one TicketAcknowledged of the answered command
    assert (await js.stream_info("TICKETS")).state.messages == tickets_before + acknowledged


async def test_an_operator_rates_for_a_resident_over_nats(
    intake: Harness, unit_nc: UnitClient, nc: Client
) -> None:
    ticket_id = await intake.submit()
    await intake.dispatch(ticket_id, "grid-heyuan")
    unit = await unit_nc("grid-heyuan")
    for verb, body in (("acknowledge", {}), ("resolve", {"note": "修好了"})):
        reply = await request(
            unit, f"cmd.unit.grid-heyuan.{verb}", {"ticket_id": ticket_id, **body}
        )
        assert reply["ok"] is True, reply
    rated = await request(
        nc, "cmd.operator.hotline.rating", {"ticket_id": ticket_id, "rating": "basically_satisfied"}
    )
    assert rated["ticket"]["status"] == "closed"


async def test_a_stream_message_is_never_answered_on_its_reply_to_header(
    intake: Harness, nc: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FastStream answers a stream message on its `reply_to` header: whoever wrote that
    header would choose where intake's consumer publishes. Consumers answer nobody."""
    ticket_id = await intake.submit()
    spy = await nc.subscribe("dept.bus-yunxi.>")
    await nc.flush()
    plain = publishing.event_headers

    def with_reply_to(event: Event) -> dict[str, str]:
        return plain(event) | {"reply_to": "dept.bus-yunxi.dispatched.FORGED"}

    monkeypatch.setattr(publishing, "event_headers", with_reply_to)
    await intake.dispatch(ticket_id, "grid-heyuan")  # returns once intake has applied it
    monkeypatch.undo()
    # A round trip through intake after it: its answer follows anything it published.
    await request(nc, "cmd.submit", REPORT, **{"Idempotency-Key": "after-the-header"})
    await nc.flush()
    assert spy.pending_msgs == 0


async def test_a_request_that_fails_is_answered_unavailable_in_the_one_shape(
    intake: Harness, nc: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def redis_gone(*args: object, **kwargs: object) -> None:
        raise ConnectionError("redis is gone")

    monkeypatch.setattr(intake.app.state.intake, "submit", redis_gone)
    error = refusal(await request(nc, "cmd.submit", REPORT))
    assert error["code"] == "unavailable"
    assert "redis" not in json.dumps(error)
