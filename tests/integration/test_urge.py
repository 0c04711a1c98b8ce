"""督办 by hand over intake's HTTP API and NATS, on real servers: a street's command
centre urges a unit of its street's ticket (recorded in the history, status and clocks
unchanged); another street's centre gets the same 404 as for no ticket; a unit may not
urge; a unit not on the ticket cannot be urged."""

import json

import nats

from chuishao.common import subjects
from chuishao.common.replies import unit_inbox_prefix
from support.intake import Harness, auth
from support.servers import Servers

GRID = "grid-heyuan"


async def test_a_street_centre_urges_a_unit_of_its_streets_ticket(intake: Harness) -> None:
    ticket_id = await intake.submit()
    await intake.dispatch(ticket_id, GRID, street="qingshi")
    before = await intake.ticket(ticket_id)

    urged = await intake.command(
        ticket_id, "urge", auth("qingshi-command"), {"unit_id": GRID, "note": "请今天到场"}
    )
    assert urged.status_code == 200, urged.text
    after = urged.json()
    assert after["status"] == before["status"] == "dispatched"
    assert after["clocks"] == before["clocks"]
    last = after["history"][-1]
    assert last["type"] == "TicketUrged"
    assert last["summary"] == f"督办 {GRID} (by qingshi-command): 请今天到场"

    other = await intake.command(ticket_id, "urge", auth("liuan-command"), {"unit_id": GRID})
    assert other.status_code == 404
    by_unit = await intake.command(ticket_id, "urge", auth(GRID), {"unit_id": GRID})
    assert by_unit.status_code == 403
    nobody = await intake.command(
        ticket_id, "urge", auth("qingshi-command"), {"unit_id": "bus-yunxi"}
    )
    assert nobody.status_code == 409
    assert nobody.json()["error"]["field"] == "unit_id"


async def test_a_centre_urges_over_nats_too(intake: Harness, servers: Servers) -> None:
    ticket_id = await intake.submit()
    await intake.dispatch(ticket_id, GRID, street="qingshi")
    body = json.dumps({"ticket_id": ticket_id, "unit_id": GRID}).encode()
    # A unit's command is answered on that unit's own inbox only.
    centre = await nats.connect(servers.nats_url, inbox_prefix=unit_inbox_prefix("qingshi-command"))
    try:
        subject = subjects.unit_command("qingshi-command", "urge")
        reply = await centre.request(subject, body, timeout=10)
    finally:
        await centre.close()
    answer = json.loads(reply.data)
    assert answer["ok"] is True, answer
    assert answer["ticket"]["history"][-1]["type"] == "TicketUrged"
