"""The console's only way to tickets: intake's HTTP API, as the person at the screen.

Every call carries the console's own service credential (X-API-Key, a `console` key) and
a token naming the person, their role and scope, signed for at most 60 s
(chuishao.common.person_tokens); intake verifies both, acts as that person within their
scope and records them in the ticket's history. The console keeps no ticket state.

Residents have no account: their pages call intake without the console's key, as anyone
could — a report as an anonymous sender, their own ticket with the link token of their
SMS, which opens that ticket and nothing else.
"""

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from chuishao.common.person_tokens import HEADER, PersonClaims, sign

if TYPE_CHECKING:
    from chuishao.console.auth import Person
    from chuishao.console.settings import ConsoleSettings


# How long an export may go quiet: intake writes a whole workbook before its first byte.
EXPORT_READ_SECONDS = 600.0


class IntakeError(Exception):
    """Intake refused (its error shape), or could not be reached (status 503)."""

    def __init__(self, status: int, code: str, message_zh: str, field: str | None = None) -> None:
        super().__init__(f"{status} {code}: {message_zh}")
        self.status = status
        self.code = code
        self.message_zh = message_zh
        self.field = field  # the form field to fix, when intake named one


@dataclass(frozen=True)
class Accepted:
    """Intake's answer to a report: `created` False when it repeats an earlier one (the
    same Idempotency-Key), with the same ticket."""

    created: bool
    body: dict[str, Any]


class IntakeClient:
    def __init__(
        self, settings: "ConsoleSettings", transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.settings = settings
        self.secret = settings.person_token_secret.get_secret_value()
        self.http = httpx.AsyncClient(
            base_url=settings.console_intake_url.rstrip("/"),
            timeout=settings.console_intake_timeout_seconds,
            headers={"X-API-Key": settings.console_api_key.get_secret_value()},
            transport=transport,
        )
        # No credential at all: what a resident's own browser could send.
        self.public = httpx.AsyncClient(
            base_url=settings.console_intake_url.rstrip("/"),
            timeout=settings.console_intake_timeout_seconds,
            transport=transport,
        )

    def token(self, person: "Person") -> str:
        claims = PersonClaims(
            username=person.username,
            role=person.role,
            unit=person.unit,
            street=person.street,
            district=person.district,
        )
        return sign(self.secret, claims, time.time(), self.settings.person_token_ttl_seconds)

    async def get(self, path: str, person: "Person", params: dict[str, Any] | None = None) -> Any:
        return await self._send("GET", path, person, params=params)

    async def post(
        self,
        path: str,
        person: "Person",
        json: Any = None,
        files: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        return await self._send(
            "POST", path, person, json=json, files=files, data=data, headers=headers or {}
        )

    async def raw(
        self, path: str, person: "Person", params: dict[str, Any] | None = None
    ) -> httpx.Response:
        """A GET whose body is not JSON (a photo), its status left to the caller."""
        return await self.http.get(path, params=params, headers={HEADER: self.token(person)})

    async def stream(
        self, path: str, person: "Person", params: dict[str, Any] | None = None
    ) -> httpx.Response:
        """A GET whose body is passed on as it arrives (an export), so the console never
        holds the whole file; the caller closes the response. Between two pieces it may
        wait EXPORT_READ_SECONDS (a workbook is sent only once intake has written it)."""
        timeout = httpx.Timeout(
            self.settings.console_intake_timeout_seconds, read=EXPORT_READ_SECONDS
        )
        request = self.http.build_request(
            "GET", path, params=params, headers={HEADER: self.token(person)}, timeout=timeout
        )
        try:
            response = await self.http.send(request, stream=True)
        except httpx.HTTPError as error:
            raise unreachable() from error
        if response.status_code >= 400:
            await response.aread()
            await response.aclose()
            raise refusal(response)
        return response

    async def as_resident(self, method: str, path: str, token: str | None, **options: Any) -> Any:
        """A resident's call: with their ticket's link token, or (a new report) none."""
        params = {**options.pop("params", {}), **({"token": token} if token else {})}
        return await self._call(self.public, method, path, params=params, **options)

    async def submit_report(self, report: dict[str, Any], idempotency_key: str | None) -> Accepted:
        """A resident's new report, as an anonymous sender (any channel's client may)."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        try:
            response = await self.public.post("/api/v1/reports", json=report, headers=headers)
        except httpx.HTTPError as error:
            raise unreachable() from error
        if response.status_code >= 400:
            raise refusal(response)
        return Accepted(response.status_code == 201, response.json())

    async def resident_raw(self, path: str, token: str, params: dict[str, Any]) -> httpx.Response:
        """A photo of the resident's ticket (a GET whose body is not JSON)."""
        return await self.public.get(path, params={**params, "token": token})

    async def _send(self, method: str, path: str, person: "Person", **options: Any) -> Any:
        headers = {HEADER: self.token(person), **options.pop("headers", {})}
        return await self._call(self.http, method, path, headers=headers, **options)

    async def _call(self, client: httpx.AsyncClient, method: str, path: str, **options: Any) -> Any:
        try:
            response = await client.request(method, path, **options)
        except httpx.HTTPError as error:
            raise unreachable() from error
        if response.status_code >= 400:
            raise refusal(response)
        if not response.content:
            return None
        return response.json()

    async def aclose(self) -> None:
        await self.http.aclose()
        await self.public.aclose()


def unreachable() -> IntakeError:
    return IntakeError(503, "intake_unavailable", "受理服务暂时无法连接，请稍后再试")


def refusal(response: httpx.Response) -> IntakeError:
    """Intake's one error shape as an IntakeError (a body in another shape still gives
    a status and a Chinese message)."""
    try:
        detail = response.json()["error"]
        field = detail.get("field")
        return IntakeError(
            response.status_code,
            str(detail["code"]),
            str(detail["message_zh"]),
            str(field) if field else None,
        )
    except (ValueError, KeyError, TypeError):
        return IntakeError(response.status_code, "intake_error", "受理服务未能完成这个请求")
