"""Intake in-process on real servers, with API keys for the sample directory's units,
and helpers that play the other services' part by publishing their events."""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
from fastapi import FastAPI
from nats.js import JetStreamContext

from chuishao.common.catalogue import Attribute, Category, publish_catalogue
from chuishao.common.domain import Level, Location, Priority, Role, Whistle
from chuishao.common.events import Event, TicketDispatched
from chuishao.common.publishing import publish_event
from chuishao.common.streams import provision
from chuishao.common.tokens import hash_api_key, resident_token
from chuishao.common.units import UnitContact, publish_units
from chuishao.intake.app import create_app
from chuishao.intake.settings import IntakeSettings


def _street_centre(unit_id: str, name: str, street: str) -> UnitContact:
    return UnitContact(
        id=unit_id, name=name, kind="command_centre", level=Level.STREET, streets=(street,)
    )


def district_centre(
    unit_id: str, name: str, *streets: str, coverage: tuple[str, ...] = ()
) -> UnitContact:
    """A district's 接诉即办 centre, which oversees `streets`."""
    return UnitContact(
        id=unit_id,
        name=name,
        kind="district",
        level=Level.DISTRICT,
        streets=streets,
        coverage=coverage,
    )


UNITS = [
    UnitContact(id="grid-heyuan", name="和园社区网格站", kind="community", level=Level.COMMUNITY),
    UnitContact(id="jiaojing-yunxi", name="云溪交通支队", kind="department", level=Level.DISTRICT),
    UnitContact(id="bus-yunxi", name="云溪公交集团", kind="co_building", level=Level.STREET),
    UnitContact(id="wuye-lanting", name="兰亭物业", kind="co_building", level=Level.COMMUNITY),
    # Co-handles neighbours' quarrels with the grid station (the resident pages' story).
    UnitContact(
        id="tiaojie-qingshi", name="青石街道人民调解委员会", kind="department", level=Level.STREET
    ),
    _street_centre("qingshi-command", "青石街道指挥中心", "qingshi"),
    _street_centre("liuan-command", "柳岸街道指挥中心", "liuan"),
    district_centre(
        "district-yunxi",
        "云溪区接诉即办指挥中心",
        "qingshi",
        "liuan",
        "yunmen",
        coverage=("yunxi",),
    ),
    # A second district, to show one district never learns of another's tickets.
    district_centre("district-xishan", "西山区接诉即办指挥中心", "xishan"),
    UnitContact(id="city-12345", name="12345督办中心", kind="command_centre", level=Level.CITY),
]
CATEGORIES = [
    Category(
        code="fire_box",
        name="消防箱损坏",
        description="Fire box broken",
        group="facility",
        keywords=("消防箱",),
    ),
    Category(code="bus_obstruction", name="公交车堵路", group="traffic"),
    Category(
        code="parking",
        name="违规停车",
        group="traffic",
        attributes=(
            Attribute(
                code="vehicle",
                datatype="singlevaluelist",
                description="车辆类型",
                required=True,
                values=(("car", "小汽车"), ("ebike", "电动车")),
            ),
        ),
    ),
]
E = TypeVar("E", bound=Event)
OPERATOR_KEY = "key-operator-12345"
CONSOLE_KEY = "key-console"
PERSON_SECRET = "test-person-token-secret"
OPEN311_KEY = "key-open311-client"
RESIDENT_SECRET = "test-resident-secret"


def unit_key(unit_id: str) -> str:
    return f"key-{unit_id}"


def auth(unit_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {unit_key(unit_id)}"}


OPERATOR = {"X-API-Key": OPERATOR_KEY}


# Story 3: a resident reports a broken fire box from the mini-program, with a photo.
STORY_3 = {
    "category": "fire_box",
    "description": "A-160车位旁边的消防箱玻璃碎了",
    "location": {"lat": 39.9087, "long": 116.3975, "address": "和园小区 A-160 车位"},
    "channel": "snap_it",
    "media_urls": ["https://img.example.org/snap/a160.jpg"],
    "reporter": {"name": "李女士", "phone": "13912345678"},
}


def report_body(
    description: str, location: dict[str, Any], channel: str = "snap_it", **more: Any
) -> dict[str, Any]:
    """The JSON of a report of a broken fire box (`more` adds fields or replaces them)."""
    body = {
        "category": "fire_box",
        "description": description,
        "location": location,
        "channel": channel,
    }
    return body | more


def open311_form(
    description: str, lat: str = "39.9", long: str = "116.4", **fields: str
) -> dict[str, str]:
    """An Open311 client's form for a broken fire box at (lat, long)."""
    return {
        "api_key": OPEN311_KEY,
        "service_code": "fire_box",
        "lat": lat,
        "long": long,
        "description": description,
    } | fields


def settings_env() -> dict[str, str]:
    """The same keys as environment variables, for services run as processes."""
    return {
        "CHUISHAO_UNIT_API_KEYS": json.dumps({hash_api_key(unit_key(u.id)): u.id for u in UNITS}),
        "CHUISHAO_OPERATOR_API_KEYS": json.dumps({hash_api_key(OPERATOR_KEY): "hotline"}),
        "CHUISHAO_OPEN311_API_KEYS": json.dumps({hash_api_key(OPEN311_KEY): "client"}),
        "CHUISHAO_RESIDENT_LINK_SECRET": RESIDENT_SECRET,
        # The console's key and person-token secret (tests/support/console.py).
        "CHUISHAO_CONSOLE_API_KEY": CONSOLE_KEY,
        "CHUISHAO_CONSOLE_API_KEYS": json.dumps({hash_api_key(CONSOLE_KEY): "console"}),
        "CHUISHAO_PERSON_TOKEN_SECRET": PERSON_SECRET,
    }


def resident_link_token(ticket_id: str) -> str:
    return resident_token(RESIDENT_SECRET, ticket_id)


@dataclass
class Harness:
    app: FastAPI
    http: httpx.AsyncClient
    js: JetStreamContext

    async def submit(self, **changes: Any) -> str:
        report = report_body(
            "A-160车位旁消防箱玻璃碎了",
            {"address": "和园小区 A-160", "grid_code": "HY-01"},
            reporter={"name": "李女士", "phone": "13912345678"},
        )
        report |= changes
        response = await self.http.post("/api/v1/reports", json=report)
        assert response.status_code == 201, response.text
        return str(response.json()["ticket_id"])

    async def resolved(self, note: str, unit_id: str = "grid-heyuan", **changes: Any) -> str:
        """A report (`changes` to submit's) dispatched to `unit_id`, which acknowledges it
        and resolves it with `note`; each command answered 200."""
        ticket_id = await self.submit(**changes)
        await self.dispatch(ticket_id, unit_id)
        for verb, body in (("acknowledge", None), ("resolve", {"note": note})):
            response = await self.command(ticket_id, verb, auth(unit_id), body)
            assert response.status_code == 200, response.text
        return ticket_id

    async def ticket(self, ticket_id: str) -> dict[str, Any]:
        response = await self.http.get(f"/api/v1/tickets/{ticket_id}", headers=OPERATOR)
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def dispatch(
        self,
        ticket_id: str,
        *units: str,
        whistle: Whistle = Whistle.DAILY,
        role: Role = Role.LEAD,
        street: str = "qingshi",
    ) -> None:
        """What the router does: one TicketDispatched per unit; waits until intake has it."""
        record = await self.app.state.intake.store.get(ticket_id)
        for index, unit_id in enumerate(units):
            await self.play(
                TicketDispatched,
                ticket_id,
                "router",
                unit_id=unit_id,
                unit_name=next(u.name for u in UNITS if u.id == unit_id),
                role=role if index == 0 else Role.CO,
                level=Level.COMMUNITY,
                whistle=whistle,
                category=record.category or "fire_box",
                priority=Priority.NORMAL,
                description=record.description,
                location=Location(grid_code="HY-01"),
                reason="test",
                street=street,
            )

    async def play(
        self,
        kind: type[E],
        ticket_id: str,
        producer: str,
        held: Callable[[dict[str, Any]], object] | None = None,
        **fields: Any,
    ) -> E:
        """What another service does: an event of `kind` about the ticket, now, published;
        waits until the ticket `held` (by default: until its history has the event)."""
        record = await self.app.state.intake.store.get(ticket_id)
        event = kind.about(
            ticket_id=ticket_id,
            correlation_id=record.correlation_id,
            producer=producer,
            occurred_at=datetime.now(UTC),
            **fields,
        )
        await publish_event(self.js, event)
        await self.until(
            ticket_id, held or (lambda t: event.event_id in {h["event_id"] for h in t["history"]})
        )
        return event

    async def until(self, ticket_id: str, test: Any, timeout: float = 10.0) -> dict[str, Any]:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            ticket = await self.ticket(ticket_id)
            if test(ticket):
                return ticket
            assert asyncio.get_running_loop().time() < deadline, f"never held: {ticket}"
            await asyncio.sleep(0.02)

    async def command(
        self,
        ticket_id: str,
        verb: str,
        actor: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
        **params: str,
    ) -> httpx.Response:
        return await self.http.post(
            f"/api/v1/tickets/{ticket_id}/{verb}", json=body, headers=actor or {}, params=params
        )


@contextlib.asynccontextmanager
async def fire_box_intake(
    nats_url: str, redis_url: str, js: JetStreamContext
) -> AsyncIterator[FastAPI]:
    """Intake with its default settings and a catalogue of the fire box alone, started."""
    await provision(js)
    await publish_catalogue(js, [Category(code="fire_box", name="消防箱损坏")])
    app = create_app(IntakeSettings(nats_url=nats_url, redis_url=redis_url))
    async with app.router.lifespan_context(app):
        await app.state.intake.catalogue.loaded.wait()
        yield app


@contextlib.asynccontextmanager
async def running_intake(
    nats_url: str, redis_url: str, js: JetStreamContext, **settings: Any
) -> AsyncIterator[Harness]:
    await provision(js)
    await publish_catalogue(js, CATEGORIES)
    await publish_units(js, UNITS)
    env = settings_env()
    app = create_app(
        IntakeSettings(
            nats_url=nats_url,
            redis_url=redis_url,
            unit_api_keys=json.loads(env["CHUISHAO_UNIT_API_KEYS"]),
            operator_api_keys=json.loads(env["CHUISHAO_OPERATOR_API_KEYS"]),
            open311_api_keys=json.loads(env["CHUISHAO_OPEN311_API_KEYS"]),
            resident_link_secret=RESIDENT_SECRET,
            console_api_keys=json.loads(env["CHUISHAO_CONSOLE_API_KEYS"]),
            person_token_secret=PERSON_SECRET,
            # No load shedding unless a test asks for it (test_intake_overload.py): on a
            # busy machine the response budget would shed a functional test's burst.
            **({"max_in_flight": 4096, "response_budget_ms": 0} | settings),
        )
    )
    async with app.router.lifespan_context(app):
        intake = app.state.intake
        await intake.catalogue.loaded.wait()
        await intake.keys.unit_directory.loaded.wait()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake") as http:
            yield Harness(app=app, http=http, js=js)
