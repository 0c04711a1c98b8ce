"""A person at the console reaches intake as that person: the console's key plus a token
it signs (person, role, scope, ≤ 60 s). Intake acts as the person's unit within its scope,
names the person in the ticket's history, and refuses a forged or expired token."""

import time
from collections.abc import AsyncIterator

import httpx
import pytest

from chuishao.common.person_tokens import HEADER, PersonClaims, sign
from chuishao.common.roles import PersonRole
from chuishao.console.auth import Person
from chuishao.console.intake_client import IntakeError
from support.console import ConsoleHarness, running_console
from support.intake import CONSOLE_KEY, PERSON_SECRET, Harness, auth
from support.servers import Servers

NOBODYS = "T19990101000001"  # a well-formed id no ticket has
WANG = Person("wang", PersonRole.CLERK, unit="grid-heyuan")


@pytest.fixture
async def console(servers: Servers, intake: Harness) -> AsyncIterator[ConsoleHarness]:
    async with running_console(servers.nats_url, servers.redis_url, intake.app) as harness:
        yield harness


def token(
    role: PersonRole,
    *,
    ttl: float = 30.0,
    now: float | None = None,
    unit: str | None = None,
    street: str | None = None,
    district: str | None = None,
) -> str:
    claims = PersonClaims("someone", role, unit=unit, street=street, district=district)
    return sign(PERSON_SECRET, claims, time.time() if now is None else now, ttl)


def as_person(person_token: str) -> dict[str, str]:
    return {"X-API-Key": CONSOLE_KEY, HEADER: person_token}


async def dispatched(intake: Harness, street: str = "qingshi", unit: str = "grid-heyuan") -> str:
    ticket_id = await intake.submit()
    await intake.dispatch(ticket_id, unit, street=street)
    return ticket_id


async def test_an_action_names_the_person_in_the_history(
    intake: Harness, console: ConsoleHarness
) -> None:
    ticket_id = await dispatched(intake)
    client = console.console.intake
    ticket = await client.post(f"/api/v1/tickets/{ticket_id}/acknowledge", WANG)
    assert ticket["status"] == "in_progress", ticket
    entry = next(h for h in ticket["history"] if h["type"] == "TicketAcknowledged")
    assert entry["person"] == "wang"
    # The unit's own key acts as the unit, with no person.
    note = {"note": "到场查看"}
    noted = await intake.command(ticket_id, "notes", auth("grid-heyuan"), note)
    assert noted.status_code == 200, noted.text
    entry = next(h for h in noted.json()["history"] if h["type"] == "TicketProgressNoted")
    assert entry["person"] is None
    # The resident's face of the ticket never names staff.
    assert "wang" not in (await intake.http.get(f"/open311/v2/requests/{ticket_id}.json")).text


async def test_a_forged_an_expired_or_a_missing_token_is_refused(intake: Harness) -> None:
    ticket_id = await dispatched(intake)
    path = f"/api/v1/tickets/{ticket_id}"
    good = token(PersonRole.CLERK, unit="grid-heyuan")
    assert (await intake.http.get(path, headers=as_person(good))).status_code == 200

    part, _, mac = good.partition(".")
    forged_claims = sign("another-secret", PersonClaims("x", PersonRole.CITY), time.time())
    expired = token(PersonRole.CLERK, now=time.time() - 61, ttl=60, unit="grid-heyuan")
    capped = token(PersonRole.CLERK, ttl=3600, unit="grid-heyuan")  # sign() caps it at 60 s
    refused = {
        "forged signature": forged_claims,
        "tampered claims": part[:-2] + "AA." + mac,
        "expired": expired,
        "garbage": "not-a-token",
    }
    for name, bad in refused.items():
        response = await intake.http.get(path, headers=as_person(bad))
        assert response.status_code == 401, (name, response.text)
        assert response.json()["error"]["code"] == "person_token_invalid", name
    missing = await intake.http.get(path, headers={"X-API-Key": CONSOLE_KEY})
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "person_token_invalid"
    assert (await intake.http.get(path, headers=as_person(capped))).status_code == 200


async def test_a_token_without_the_consoles_key_counts_for_nothing(intake: Harness) -> None:
    ticket_id = await dispatched(intake)
    # The bus company's key with a token claiming the grid's clerk: still the bus company.
    headers = {**auth("bus-yunxi"), HEADER: token(PersonRole.CLERK, unit="grid-heyuan")}
    response = await intake.http.get(f"/api/v1/tickets/{ticket_id}", headers=headers)
    assert response.status_code == 404


async def test_outside_the_persons_scope_is_the_same_404_as_no_ticket(intake: Harness) -> None:
    ticket_id = await dispatched(intake, street="qingshi")

    async def answer(person_token: str, ticket: str) -> tuple[int, str]:
        response = await intake.http.get(
            f"/api/v1/tickets/{ticket}", headers=as_person(person_token)
        )
        return response.status_code, response.text.replace(ticket, "<id>")

    outsiders = {
        "another unit's clerk": token(PersonRole.CLERK, unit="bus-yunxi"),
        "another street's command centre": token(PersonRole.COMMAND_CENTRE, street="liuan"),
    }
    for name, outsider in outsiders.items():
        theirs = await answer(outsider, ticket_id)
        assert theirs[0] == 404, name
        assert theirs == await answer(outsider, NOBODYS), name
        acted = await intake.http.post(
            f"/api/v1/tickets/{ticket_id}/acknowledge", headers=as_person(outsider)
        )
        assert acted.status_code == 404, name

    insiders = {
        "the unit's clerk": token(PersonRole.CLERK, unit="grid-heyuan"),
        "the street's command centre": token(PersonRole.COMMAND_CENTRE, street="qingshi"),
        "the district": token(PersonRole.DISTRICT, district="yunxi"),
        "the city": token(PersonRole.CITY),
        "an operator": token(PersonRole.OPERATOR),
    }
    for name, insider in insiders.items():
        assert (await answer(insider, ticket_id))[0] == 200, name


async def test_an_admin_acts_on_no_ticket(intake: Harness) -> None:
    ticket_id = await dispatched(intake)
    response = await intake.http.get(
        f"/api/v1/tickets/{ticket_id}", headers=as_person(token(PersonRole.ADMIN))
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "person_without_unit"


async def test_the_console_client_reports_intakes_refusal(
    intake: Harness, console: ConsoleHarness
) -> None:
    with pytest.raises(IntakeError) as refused:
        await console.console.intake.get(f"/api/v1/tickets/{NOBODYS}", WANG)
    assert refused.value.status == 404
    assert refused.value.message_zh


async def test_the_console_client_says_when_intake_is_unreachable(
    console: ConsoleHarness,
) -> None:
    client = console.console.intake
    original = client.http
    client.http = httpx.AsyncClient(base_url="http://127.0.0.1:9")  # nothing listens
    try:
        with pytest.raises(IntakeError) as refused:
            await client.get("/api/v1/tickets", WANG)
    finally:
        await client.http.aclose()
        client.http = original
    assert refused.value.status == 503
