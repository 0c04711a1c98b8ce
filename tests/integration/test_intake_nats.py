"""The NATS request subjects for in-house systems: same use cases, structured replies."""

import json

from nats.aio.client import Client

from support.intake import Harness


async def request(nc: Client, subject: str, body: object, **headers: str) -> dict[str, object]:
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    reply = await nc.request(subject, payload, timeout=5, headers=headers or None)
    return dict(json.loads(reply.data))


REPORT = {
    "category": "fire_box",
    "description": "消防箱玻璃碎了",
    "channel": "hotline_12345",
    "location": {"address": "和园小区 A-160"},
}


async def test_submit_over_nats_with_idempotency(intake: Harness, nc: Client) -> None:
    first = await request(nc, "cmd.submit", REPORT, **{"Idempotency-Key": "cti-42"})
    again = await request(nc, "cmd.submit", REPORT, **{"Idempotency-Key": "cti-42"})
    assert first["ok"] is True
    assert first["created"] is True
    assert (again["ticket_id"], again["created"]) == (first["ticket_id"], False)


async def test_bad_submits_get_structured_errors(intake: Harness, nc: Client) -> None:
    invalid = await request(nc, "cmd.submit", REPORT | {"description": ""})
    assert invalid["ok"] is False
    error = invalid["error"]
    assert isinstance(error, dict)
    assert error["code"] == "invalid"
    assert ["description"] in [f["loc"] for f in error["fields"]]
    garbled = await request(nc, "cmd.submit", b"{not json")
    assert garbled["error"]["code"] == "invalid"  # type: ignore[index]
    unknown = await request(nc, "cmd.submit", REPORT | {"category": "nope"})
    assert unknown["error"]["fields"][0]["loc"] == ["category"]  # type: ignore[index]


async def test_a_unit_command_over_nats(intake: Harness, nc: Client) -> None:
    ticket_id = await intake.submit()
    await intake.dispatch(ticket_id, "grid-heyuan")
    reply = await request(nc, "cmd.unit.grid-heyuan.acknowledge", {"ticket_id": ticket_id})
    assert reply["ok"] is True
    assert reply["ticket"]["status"] == "in_progress"  # type: ignore[index]
    again = await request(nc, "cmd.unit.grid-heyuan.acknowledge", {"ticket_id": ticket_id})
    assert again["error"]["code"] == "illegal_transition"  # type: ignore[index]
    assert again["error"]["status"] == "in_progress"  # type: ignore[index]
    stranger = await request(
        nc, "cmd.unit.bus-yunxi.resolve", {"ticket_id": ticket_id, "note": "x"}
    )
    assert stranger["error"]["code"] == "forbidden"  # type: ignore[index]
    nothing = await request(nc, "cmd.unit.grid-heyuan.fly", {"ticket_id": ticket_id})
    assert nothing["error"]["code"] == "unknown_verb"  # type: ignore[index]
    missing = await request(
        nc, "cmd.unit.grid-heyuan.acknowledge", {"ticket_id": "T19990101000001"}
    )
    assert missing["error"]["code"] == "not_found"  # type: ignore[index]


async def test_an_operator_rates_for_a_resident_over_nats(intake: Harness, nc: Client) -> None:
    ticket_id = await intake.submit()
    await intake.dispatch(ticket_id, "grid-heyuan")
    for verb, body in (("acknowledge", {}), ("resolve", {"note": "修好了"})):
        reply = await request(nc, f"cmd.unit.grid-heyuan.{verb}", {"ticket_id": ticket_id, **body})
        assert reply["ok"] is True, reply
    rated = await request(
        nc, "cmd.operator.hotline.rating", {"ticket_id": ticket_id, "rating": "basically_satisfied"}
    )
    assert rated["ticket"]["status"] == "closed"  # type: ignore[index]
