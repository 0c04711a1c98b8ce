"""The running stack as the demo sees it: intake's HTTP API with the keys `make run`
wrote, supervision's board, and the shared stack clock in Redis."""

import asyncio
import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from redis.asyncio import Redis

from chuishao.common.clock import OFFSET_KEY, advance_shared_clock

Ticket = dict[str, Any]


class DemoError(RuntimeError):
    pass


# The board needs a command centre's credential; the district's sees every street.
DISTRICT_CENTRE = "district-yunxi"


@dataclass(frozen=True)
class Keys:
    units: dict[str, str]
    operator: str

    @property
    def board(self) -> dict[str, str]:
        """Headers for supervision's read API: the district command centre's key."""
        return {"X-API-Key": self.units[DISTRICT_CENTRE]}

    @classmethod
    def load(cls, path: Path) -> "Keys":
        if not path.exists():
            raise DemoError(f"no {path}: start the stack with `make run` first")
        data = json.loads(path.read_text())
        return cls(units=dict(data["units"]), operator=str(data["operator"]))


class StackClock:
    """The whole stack's clock (CHUISHAO_CLOCK=shared): an offset in Redis."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def advance(self, seconds: float) -> float:
        return await advance_shared_clock(self.redis, seconds)

    async def offset(self) -> float:
        raw = await self.redis.get(OFFSET_KEY)
        return float(raw) if raw is not None else 0.0


class Stack:
    def __init__(
        self,
        intake: httpx.AsyncClient,
        board: httpx.AsyncClient,
        keys: Keys,
        console: httpx.AsyncClient,
    ) -> None:
        self.intake = intake
        self.board_http = board
        self.keys = keys
        self.console = console  # the residents' pages (/r), as a phone's browser uses them

    async def wait_until_up(self, timeout: float = 30.0) -> None:
        clients = (("intake", self.intake), ("supervision", self.board_http))
        for name, client in (*clients, ("console", self.console)):
            await self._poll(
                functools.partial(client.get, "/health"),
                lambda r: r.status_code == 200,
                timeout,
                f"{name} at {client.base_url} is not up: start the stack with `make run`",
            )

    async def submit(self, report: dict[str, Any], timeout: float = 30.0) -> str:
        """File a report; intake answers 503 until it has the router's catalogue."""
        response = await self._poll(
            lambda: self.intake.post("/api/v1/reports", json=report),
            lambda r: r.status_code != 503,
            timeout,
            "intake kept answering 503",
        )
        if response.status_code not in (200, 201):
            raise DemoError(f"report refused: {response.status_code} {response.text}")
        return str(response.json()["ticket_id"])

    async def file_on_resident_page(self, fields: dict[str, str]) -> tuple[str, str]:
        """A resident's report from the console's page, as a phone's browser sends it: the
        form (its CSRF token and idempotency key), then a multipart POST with no photo
        chosen; the page's redirect names the ticket and the resident's link token."""
        form = await self.console.get("/r", headers={"Accept": "text/html"})
        if form.status_code != 200:
            raise DemoError(f"the resident page answered {form.status_code}")
        hidden = dict(re.findall(r'name="(csrf_token|idempotency_key)" value="([^"]*)"', form.text))
        response = await self._poll(
            lambda: self.console.post(
                "/r",
                data={**hidden, **fields},
                files={"photos": ("", b"", "application/octet-stream")},
                headers={"Accept": "text/html"},
            ),
            lambda r: r.status_code != 503,
            30.0,
            "the resident page kept answering 503",
        )
        where = urlsplit(response.headers.get("location", ""))
        token = parse_qs(where.query).get("t", [""])[0]
        if response.status_code != 303 or not where.path.startswith("/r/") or not token:
            raise DemoError(f"the resident page refused: {response.status_code} {response.text}")
        return where.path.removeprefix("/r/"), token

    async def resident_view(self, ticket_id: str, token: str) -> int:
        """The status page the SMS links to: what the resident sees (its HTTP status)."""
        page = await self.console.get(f"/r/{ticket_id}", params={"t": token})
        return page.status_code

    async def callback(self, ticket_id: str, outcome: str) -> None:
        """A 12345 operator's callback (回访) that reached no rating (RecordCallback)."""
        response = await self.intake.post(
            f"/api/v1/tickets/{ticket_id}/callbacks",
            json={"outcome": outcome},
            headers={"X-API-Key": self.keys.operator},
        )
        if response.status_code >= 400:
            raise DemoError(f"callback {ticket_id}: {response.status_code} {response.text}")

    async def ticket(self, ticket_id: str) -> Ticket:
        response = await self.intake.get(
            f"/api/v1/tickets/{ticket_id}", headers={"X-API-Key": self.keys.operator}
        )
        response.raise_for_status()
        ticket: Ticket = response.json()
        return ticket

    async def until(
        self, ticket_id: str, test: Callable[[Ticket], bool], what: str, timeout: float = 20.0
    ) -> Ticket:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            ticket = await self.ticket(ticket_id)
            if test(ticket):
                return ticket
            if asyncio.get_running_loop().time() > deadline:
                raise DemoError(f"{ticket_id}: {what} did not happen (status {ticket['status']})")
            await asyncio.sleep(0.05)

    async def act(
        self, ticket_id: str, unit_id: str, verb: str, body: dict[str, Any] | None = None
    ) -> None:
        """A unit's command, with that unit's own key."""
        response = await self.intake.post(
            f"/api/v1/tickets/{ticket_id}/{verb}",
            json=body,
            headers={"Authorization": f"Bearer {self.keys.units[unit_id]}"},
        )
        if response.status_code >= 400:
            raise DemoError(f"{unit_id} {verb} {ticket_id}: {response.status_code} {response.text}")

    async def rate(self, ticket_id: str, rating: str, comment: str = "") -> None:
        """The resident's rating, taken by a 12345 operator on the callback (回访)."""
        response = await self.intake.post(
            f"/api/v1/tickets/{ticket_id}/rating",
            json={"rating": rating, "comment": comment},
            headers={"X-API-Key": self.keys.operator},
        )
        if response.status_code >= 400:
            raise DemoError(f"rating {ticket_id}: {response.status_code} {response.text}")

    async def board(self) -> dict[str, Any]:
        response = await self.board_http.get("/api/v1/board", headers=self.keys.board)
        response.raise_for_status()
        board: dict[str, Any] = response.json()
        return board

    async def _poll(
        self,
        call: Callable[[], Any],
        done: Callable[[httpx.Response], bool],
        timeout: float,
        failure: str,
    ) -> httpx.Response:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            try:
                response: httpx.Response = await call()
                if done(response):
                    return response
            except httpx.TransportError:
                pass
            if asyncio.get_running_loop().time() > deadline:
                raise DemoError(failure)
            await asyncio.sleep(0.2)
