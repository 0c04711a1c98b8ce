"""The console's only way to tickets: intake's HTTP API, as the person at the screen.

Every call carries the console's own service credential (X-API-Key, a `console` key) and
a token naming the person, their role and scope, signed for at most 60 s
(chuishao.common.person_tokens); intake verifies both, acts as that person within their
scope and records them in the ticket's history. The console keeps no ticket state.
"""

import time
from typing import TYPE_CHECKING, Any

import httpx

from chuishao.common.person_tokens import HEADER, PersonClaims, sign

if TYPE_CHECKING:
    from chuishao.console.auth import Person
    from chuishao.console.settings import ConsoleSettings


class IntakeError(Exception):
    """Intake refused (its error shape), or could not be reached (status 503)."""

    def __init__(self, status: int, code: str, message_zh: str) -> None:
        super().__init__(f"{status} {code}: {message_zh}")
        self.status = status
        self.code = code
        self.message_zh = message_zh


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
    ) -> Any:
        return await self._send("POST", path, person, json=json, files=files, data=data)

    async def raw(
        self, path: str, person: "Person", params: dict[str, Any] | None = None
    ) -> httpx.Response:
        """A GET whose body is not JSON (a photo), its status left to the caller."""
        return await self.http.get(path, params=params, headers={HEADER: self.token(person)})

    async def _send(self, method: str, path: str, person: "Person", **options: Any) -> Any:
        try:
            response = await self.http.request(
                method, path, headers={HEADER: self.token(person)}, **options
            )
        except httpx.HTTPError as error:
            raise IntakeError(
                503, "intake_unavailable", "受理服务暂时无法连接，请稍后再试"
            ) from error
        if response.status_code >= 400:
            raise refusal(response)
        if not response.content:
            return None
        return response.json()

    async def aclose(self) -> None:
        await self.http.aclose()


def refusal(response: httpx.Response) -> IntakeError:
    """Intake's one error shape as an IntakeError (a body in another shape still gives
    a status and a Chinese message)."""
    try:
        detail = response.json()["error"]
        return IntakeError(response.status_code, str(detail["code"]), str(detail["message_zh"]))
    except (ValueError, KeyError, TypeError):
        return IntakeError(response.status_code, "intake_error", "受理服务未能完成这个请求")
