"""Who is at the screen: sessions (server-side, in Redis), the logged-in `Person`, the
page dependencies `current_person` and `require(...)`, and CSRF protection of every form.

A session is a random id in an HttpOnly, SameSite=Lax cookie; Redis keeps only its SHA-256
with the username and the session's CSRF token, so a dump of Redis opens no session. The
account is read again on every request: a disabled account (or a changed role) takes
effect at once. Before login, forms are protected by a double-submit token: a random
cookie the login form must repeat.
"""

import hmac
import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from markupsafe import Markup, escape

from chuishao.common.errors import ApiError
from chuishao.common.roles import ROLE_NAMES_ZH, PersonRole
from chuishao.common.tokens import hash_api_key
from chuishao.console.accounts import Account

if TYPE_CHECKING:
    from chuishao.console.service import Console

Role = PersonRole
SESSION_COOKIE = "chuishao_session"
CSRF_COOKIE = "chuishao_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


@dataclass(frozen=True)
class Person:
    """A logged-in person: who, in which role, for which unit, street or district."""

    username: str
    role: PersonRole
    unit: str | None = None
    street: str | None = None
    district: str | None = None

    @classmethod
    def of(cls, account: Account) -> "Person":
        return cls(account.username, account.role, account.unit, account.street, account.district)

    @property
    def role_name(self) -> str:
        return ROLE_NAMES_ZH[self.role]

    @property
    def scope(self) -> str | None:
        return self.unit or self.street or self.district


@dataclass(frozen=True)
class Session:
    username: str
    csrf: str


class LoginRequired(Exception):
    """Raised by `current_person` without a session; the app answers with a redirect to
    /login?next=<the page>."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def console_of(request: Request) -> "Console":
    console: Console = request.app.state.console
    return console


class Sessions:
    def __init__(self, console: "Console") -> None:
        self.redis = console.redis
        self.prefix = f"{console.settings.console_namespace}:session"
        self.ttl = round(console.settings.console_session_hours * 3600)

    def _key(self, session_id: str) -> str:
        return f"{self.prefix}:{hash_api_key(session_id)}"

    async def open(self, username: str) -> str:
        """A new session's id (for the cookie)."""
        session_id = secrets.token_urlsafe(32)
        body = json.dumps({"u": username, "csrf": secrets.token_urlsafe(24)})
        await self.redis.set(self._key(session_id), body, ex=self.ttl)
        return session_id

    async def get(self, session_id: str) -> Session | None:
        key = self._key(session_id)
        raw = await self.redis.get(key)
        if raw is None:
            return None
        await self.redis.expire(key, self.ttl)  # sliding: an active person stays in
        body = json.loads(raw)
        return Session(body["u"], body["csrf"])

    async def close(self, session_id: str) -> None:
        await self.redis.delete(self._key(session_id))


_NO_SESSION = object()


async def session_of(request: Request) -> Session | None:
    """The request's session (looked up once per request)."""
    cached: Any = getattr(request.state, "session", _NO_SESSION)
    if cached is not _NO_SESSION:
        session: Session | None = cached
        return session
    session_id = request.cookies.get(SESSION_COOKIE)
    session = await console_of(request).sessions.get(session_id) if session_id else None
    request.state.session = session
    return session


async def person_of(request: Request) -> Person | None:
    """The logged-in person, or None (no session, or the account gone or disabled)."""
    cached: Any = getattr(request.state, "person", _NO_SESSION)
    if cached is not _NO_SESSION:
        known: Person | None = cached
        return known
    session = await session_of(request)
    account = await console_of(request).accounts.get(session.username) if session else None
    person = Person.of(account) if account is not None and not account.disabled else None
    request.state.person = person
    return person


async def current_person(request: Request) -> Person:
    """The logged-in person; a page without one redirects to /login."""
    person = await person_of(request)
    if person is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target)
    return person


CurrentPerson = Annotated[Person, Depends(current_person)]


def forbidden() -> ApiError:
    return ApiError(
        403,
        "forbidden_role",
        "您的账号角色无权使用这个页面",
        "Your account's role may not use this page",
    )


def require(*roles: PersonRole) -> Callable[[Request], Awaitable[Person]]:
    """A dependency: the logged-in person, if their role is one of `roles` (else 403).

    `person: Annotated[Person, Depends(require(Role.CLERK))]`
    """
    allowed = frozenset(roles)

    async def dependency(request: Request) -> Person:
        person = await current_person(request)
        if person.role not in allowed:
            raise forbidden()
        return person

    return dependency


# A clerk of a unit: the screens of its queue, its tickets, its appeals and its live
# events all want one, so it is named once here.
Clerk = Annotated[Person, Depends(require(PersonRole.CLERK))]


# --- CSRF


def csrf_token(request: Request) -> str:
    """The token forms of this request carry: the session's, else the pre-login cookie's
    (set by `csrf_cookie_middleware`)."""
    session: Any = getattr(request.state, "session", None)
    if isinstance(session, Session):
        return session.csrf
    token: str = getattr(request.state, "csrf_cookie", "") or request.cookies.get(CSRF_COOKIE, "")
    return token


def csrf_field(request: Request) -> Markup:
    """The hidden input every form includes (`{{ csrf_field() }}` in templates)."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(
        CSRF_FIELD, escape(csrf_token(request))
    )


def csrf_refused() -> ApiError:
    return ApiError(
        403,
        "csrf_failed",
        "表单已过期或来源不明，请刷新页面后重新提交",
        "The form expired or did not come from this site; reload the page and submit again",
        field=CSRF_FIELD,
    )


async def check_csrf(request: Request) -> None:
    """A dependency of every POST: the form's (or X-CSRF-Token header's) token must be the
    session's, or before login the pre-login cookie's."""
    offered = request.headers.get(CSRF_HEADER)
    if offered is None:
        form = await request.form()  # parsed once; the route's Form() reads the same
        value = form.get(CSRF_FIELD)
        offered = value if isinstance(value, str) else None
    session = await session_of(request)
    expected = session.csrf if session is not None else request.cookies.get(CSRF_COOKIE)
    if not offered or not expected or not hmac.compare_digest(offered.encode(), expected.encode()):
        raise csrf_refused()


CheckCsrf = Depends(check_csrf)


def login_redirect(next_path: str) -> str:
    return "/login?next=" + quote(next_path, safe="/")
