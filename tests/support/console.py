"""The console in-process on real servers, talking to an in-process intake when given one."""

import contextlib
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI

from chuishao.common.roles import PersonRole
from chuishao.console import web
from chuishao.console.bootstrap import bootstrap
from chuishao.console.service import Console
from chuishao.console.settings import ConsoleSettings
from support.intake import CONSOLE_KEY, PERSON_SECRET
from support.servers import Servers
from support.supervision import serving

PASSWORD = "correct-horse-battery"


@dataclass
class ConsoleHarness:
    app: FastAPI
    console: Console
    http: httpx.AsyncClient

    async def account(self, username: str, role: PersonRole, scope: str | None = None) -> None:
        await self.console.accounts.add(username, role, scope, PASSWORD)

    def csrf(self) -> str:
        """The pre-login CSRF cookie's value (a GET of any page sets it)."""
        return str(self.http.cookies.get("chuishao_csrf"))

    async def resident_form_headers(self) -> dict[str, str]:
        """The headers of the resident form's JSON calls, with the pre-login CSRF cookie
        the form carries (a GET of the form sets it)."""
        await self.http.get("/r")
        return {"X-CSRF-Token": self.csrf(), "Accept": "application/json"}

    async def login(self, username: str, password: str = PASSWORD) -> httpx.Response:
        await self.http.get("/login")
        form = {"username": username, "password": password, "csrf_token": self.csrf()}
        return await self.http.post("/login", data=form)

    async def session_csrf(self, page: str = "/admin") -> str:
        """The logged-in session's CSRF token, as a page's forms carry it."""
        text = (await self.http.get(page, headers={"Accept": "text/html"})).text
        marker = 'name="csrf_token" value="'
        start = text.index(marker) + len(marker)
        return text[start : text.index('"', start)]


@contextlib.asynccontextmanager
async def running_console(
    nats_url: str, redis_url: str, intake_app: FastAPI | None = None, **settings: Any
) -> AsyncIterator[ConsoleHarness]:
    console = bootstrap(
        ConsoleSettings(
            nats_url=nats_url,
            redis_url=redis_url,
            console_api_key=CONSOLE_KEY,
            person_token_secret=PERSON_SECRET,
            # argon2id still, at a cost the suite can afford (the default: 64 MiB, 3 passes).
            **({"password_hash_time_cost": 1, "password_hash_memory_kib": 1024} | settings),
        )
    )
    if intake_app is not None:
        await console.intake.http.aclose()
        console.intake.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=intake_app),
            base_url="http://intake",
            headers={"X-API-Key": CONSOLE_KEY},
        )
        await console.intake.public.aclose()  # residents' calls: no key
        console.intake.public = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=intake_app), base_url="http://intake"
        )
    app = web.create_app(console)
    async with console.runtime.running():
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://console") as http:
            yield ConsoleHarness(app=app, console=console, http=http)


@contextlib.asynccontextmanager
async def serving_console(
    servers: Servers,
    intake_url: str,
    accounts: Iterable[tuple[str, PersonRole, str | None]],
    **settings: Any,
) -> AsyncIterator[tuple[ConsoleHarness, str]]:
    """The console on `servers` talking to the intake at `intake_url`, with these
    accounts (username, role, scope), on a real port for a browser: (harness, its URL)."""
    async with running_console(
        servers.nats_url, servers.redis_url, console_intake_url=intake_url, **settings
    ) as harness:
        for username, role, scope in accounts:
            await harness.account(username, role, scope)
        async with serving(harness.app) as base_url:
            yield harness, base_url
