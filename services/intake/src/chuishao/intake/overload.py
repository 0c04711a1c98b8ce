"""Shedding load instead of falling over: an admitted request answers within a budget
(`response_budget_ms`, default 400 ms), and what would not is refused at once with 503
and Retry-After. A client over its rate gets 429. Either way the request changed
nothing, so the client may simply retry later.

Why a budget and not only a bound on requests in flight: with 512 in flight, 200
connections were never shed and waited 17.5 s at p99 (issue 12) — every request in the
app shares the same two cores, so latency is in-flight ÷ throughput, and the throughput
of a shared machine is not known in advance. So `Admission` measures how long a request
holds its slot, queues only what can still be served in time, and lowers the bound on
requests in flight while each takes long (`benchmarks/overload.py` measures it; figures
in docs/intake.md).

Rate limits key on the VERIFIED client: a valid API key's holder gets its own bucket; a
missing or unknown key counts against the caller's address, so inventing a key per
request gains nothing."""

import asyncio
import random
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from urllib.parse import parse_qs

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from chuishao.common.errors import error_body
from chuishao.common.tokens import hash_api_key
from chuishao.intake.auth import ApiKeys
from chuishao.intake.http_errors import OPEN311_PREFIX, status_error

EXEMPT = ("/health", "/metrics")
# A shed request is told to come back after 1 to this many seconds, drawn at random:
# with one fixed value, the clients shed together came back together, a wave every
# second that delayed every request behind it (measured: p99 of a 503 itself over 1 s).
SHED_RETRY_AFTER_MAX = 3


async def _refuse(send: Send, status: int, retry_after: int, path: str) -> None:
    """In the one error shape (Open311's own under /open311/), without reaching the app."""
    detail = status_error(status)
    if path.startswith(OPEN311_PREFIX):
        body = orjson.dumps([{"code": status, "description": detail.message_en}])
    else:
        body = orjson.dumps(error_body(detail))
    headers = [
        (b"content-type", b"application/json"),
        (b"retry-after", str(retry_after).encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class TokenBuckets:
    """Per-client token buckets, the least recently seen dropped past `clients`."""

    def __init__(
        self, per_minute: int, clients: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.clock = clock
        self.rate = per_minute / 60.0
        self.capacity = float(max(per_minute // 6, 1))  # a burst of ten seconds' worth
        self.clients = clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, client: str) -> float:
        """0 if allowed, else the seconds until a token is free."""
        now = self.clock()
        tokens, seen = self._buckets.pop(client, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - seen) * self.rate)
        if tokens >= 1:
            self._buckets[client] = (tokens - 1, now)
            wait = 0.0
        else:
            self._buckets[client] = (tokens, now)
            wait = (1 - tokens) / self.rate
        while len(self._buckets) > self.clients:
            self._buckets.popitem(last=False)
        return wait


class Admission:
    """Requests in the app bounded so an admitted one answers within `budget_s`:

    - at most `limit` at once, the rest in a FIFO queue;
    - a newcomer whose expected wait plus the work itself would pass the budget is refused
      on arrival, and a waiter is refused once its wait has used up what the work leaves;
    - `limit` adapts between `floor` and `ceiling`: it shrinks while a request's work
      (`hold_s`) takes over half the budget — on a busy machine more at once only makes
      each slower — and grows back while it takes under a quarter and the slots are full.

    A budget of 0 means a fixed limit and no queue: past it, refused at once."""

    def __init__(self, limit: int, budget_s: float, floor: int = 4) -> None:
        self.ceiling = max(limit, 1)
        self.floor = min(floor, self.ceiling)
        self.limit = self.ceiling
        self.budget_s = budget_s
        self.in_flight = 0
        # Seconds a request holds its slot, smoothed; the queue drains at limit/hold.
        self.hold_s = 0.0
        self._adjusted = 0.0
        self._waiting: deque[asyncio.Future[None]] = deque()

    @property
    def waiting(self) -> int:
        return sum(not turn.done() for turn in self._waiting)

    def expected_wait(self) -> float:
        while self._waiting and self._waiting[0].done():
            self._waiting.popleft()  # timed out, or went away
        return (len(self._waiting) + 1) * self.hold_s / self.limit

    async def acquire(self) -> bool:
        """True once admitted (call `release` after); False if it must be refused."""
        if self.in_flight < self.limit and not self._waiting:
            self.in_flight += 1
            return True
        may_wait = self.budget_s - self.hold_s
        if may_wait <= 0 or self.expected_wait() > may_wait:
            return False
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(turn)
        try:
            await asyncio.wait_for(asyncio.shield(turn), may_wait)
        except TimeoutError:
            if turn.done():  # handed a slot just as the wait ran out: keep it
                return True
            turn.cancel()
            return False
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self.release(0.0)  # a slot handed to a request that went away
            turn.cancel()
            raise
        return True

    def release(self, held_s: float) -> None:
        if held_s > 0:
            # One long request (a batch import) must not read as a slow machine.
            if self.budget_s > 0:
                held_s = min(held_s, 2 * self.budget_s)
            self.hold_s = held_s if self.hold_s == 0 else 0.9 * self.hold_s + 0.1 * held_s
            self._adapt()
        if self.in_flight > self.limit:  # the limit shrank: this slot goes away
            self.in_flight -= 1
            return
        # The slot passes straight to the oldest waiter still waiting, so a newcomer
        # cannot jump the queue (and slots the limit grew by go to waiters too).
        self.in_flight -= 1
        while self._waiting and self.in_flight < self.limit:
            turn = self._waiting.popleft()
            if not turn.done():
                turn.set_result(None)
                self.in_flight += 1

    def _adapt(self) -> None:
        # At most once per request duration, so each step is seen before the next.
        now = time.monotonic()
        if self.budget_s <= 0 or now - self._adjusted < self.hold_s:
            return
        self._adjusted = now
        if self.hold_s > self.budget_s / 2:
            self.limit = max(self.floor, self.limit * 3 // 4)
        elif self.hold_s < self.budget_s / 4 and self.in_flight >= self.limit:
            self.limit = min(self.ceiling, self.limit + 1)


class ShedLoad:
    def __init__(
        self,
        app: ASGIApp,
        max_in_flight: int,
        per_client_per_minute: int = 0,
        response_budget_ms: float = 0.0,
        keys: ApiKeys | None = None,
    ) -> None:
        self.app = app
        self.admission = Admission(max_in_flight, response_budget_ms / 1000)
        self.buckets = TokenBuckets(per_client_per_minute) if per_client_per_minute else None
        self.keys = keys

    @property
    def in_flight(self) -> int:
        return self.admission.in_flight

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT:
            await self.app(scope, receive, send)
            return
        if self.buckets is not None:
            wait = self.buckets.take(client_of(scope, self.keys))
            if wait > 0:
                await _refuse(send, 429, int(wait) + 1, scope["path"])
                return
        if not await self.admission.acquire():
            retry_after = random.randint(1, SHED_RETRY_AFTER_MAX)  # noqa: S311 - jitter
            await _refuse(send, 503, retry_after, scope["path"])
            return
        started = time.monotonic()
        try:
            await self.app(scope, receive, send)
        finally:
            self.admission.release(time.monotonic() - started)


def client_of(scope: Scope, keys: ApiKeys | None) -> str:
    """Whose budget a request spends: a valid key's holder, else the caller's address."""
    key = _api_key(scope)
    if key and keys is not None:
        digest = hash_api_key(key)
        for kind, holders in (
            ("unit", keys.units),
            ("operator", keys.operators),
            ("open311", keys.open311),
        ):
            if (holder := holders.get(digest)) is not None:
                return f"{kind}:{holder}"
    # Behind a reverse proxy this is the proxy: give it a per-address limit of its own
    # there (X-Forwarded-For is not trusted here, a client could write anything into it).
    client = scope.get("client")
    return f"ip:{client[0]!s}" if client else "ip:unknown"


def _api_key(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"x-api-key":
            return str(value.decode(errors="replace")).strip()
        if name == b"authorization" and value[:7].lower() == b"bearer ":
            return str(value[7:].decode(errors="replace")).strip()
    if scope["path"].startswith(OPEN311_PREFIX) and b"api_key" in scope.get("query_string", b""):
        found = parse_qs(scope["query_string"].decode(errors="replace")).get("api_key")
        return found[0] if found else None
    return None
