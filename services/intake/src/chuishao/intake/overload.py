"""Shedding load instead of falling over: past a bound of requests in flight, intake
answers 503 at once with Retry-After; a client over its rate gets 429. Either way the
request changed nothing, so the client may simply retry later."""

import time
from collections import OrderedDict

from starlette.types import ASGIApp, Receive, Scope, Send

EXEMPT = ("/health", "/metrics")


async def _refuse(send: Send, status: int, retry_after: int, detail: str) -> None:
    body = f'{{"detail": "{detail}"}}'.encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"retry-after", str(retry_after).encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class TokenBuckets:
    """Per-client token buckets, the least recently seen dropped past `clients`."""

    def __init__(self, per_minute: int, clients: int = 10_000) -> None:
        self.rate = per_minute / 60.0
        self.capacity = float(max(per_minute // 6, 1))  # a burst of ten seconds' worth
        self.clients = clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, client: str) -> float:
        """0 if allowed, else the seconds until a token is free."""
        now = time.monotonic()
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


class ShedLoad:
    def __init__(self, app: ASGIApp, max_in_flight: int, per_client_per_minute: int = 0) -> None:
        self.app = app
        self.max_in_flight = max_in_flight
        self.in_flight = 0
        self.buckets = TokenBuckets(per_client_per_minute) if per_client_per_minute else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT:
            await self.app(scope, receive, send)
            return
        if self.buckets is not None:
            client = _client_of(scope)
            wait = self.buckets.take(client)
            if wait > 0:
                await _refuse(send, 429, int(wait) + 1, "too many requests from this client")
                return
        if self.in_flight >= self.max_in_flight:
            await _refuse(send, 503, 1, "intake is at capacity; retry shortly")
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1


def _client_of(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name in (b"x-api-key", b"authorization"):
            return "key:" + str(value.decode(errors="replace"))[-16:]
    client = scope.get("client")
    return f"ip:{client[0]!s}" if client else "ip:unknown"
