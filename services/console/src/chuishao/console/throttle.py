"""Login throttling: wrong passwords counted per username and per address in Redis; too
many within the window lock that username (or address) for a while, even for the right
password, so guessing is slow wherever it comes from."""

import math
from dataclasses import dataclass

from redis.asyncio import Redis


@dataclass(frozen=True)
class ThrottleRule:
    failures: int = 5
    window_seconds: float = 900.0
    lock_seconds: float = 900.0
    # An address may fail this many times as often as one username (an office behind one
    # NAT has many people) before it is locked.
    ip_factor: int = 4


class LoginThrottle:
    def __init__(self, redis: Redis, rule: ThrottleRule, namespace: str = "console") -> None:
        self.redis = redis
        self.rule = rule
        self.prefix = f"{namespace}:throttle"

    def _keys(self, username: str, address: str) -> list[tuple[str, str, int]]:
        """(failure counter, lock, limit) per subject."""
        user = username.strip().lower()
        return [
            (f"{self.prefix}:fail:u:{user}", f"{self.prefix}:lock:u:{user}", self.rule.failures),
            (
                f"{self.prefix}:fail:a:{address}",
                f"{self.prefix}:lock:a:{address}",
                self.rule.failures * self.rule.ip_factor,
            ),
        ]

    async def locked_for(self, username: str, address: str) -> float:
        """Seconds until a login may be tried again (0: now)."""
        longest = 0.0
        for _, lock, _ in self._keys(username, address):
            ttl_ms = await self.redis.pttl(lock)
            longest = max(longest, ttl_ms / 1000 if ttl_ms > 0 else 0.0)
        return longest

    async def _count(self, counter: str) -> int:
        """One more in `counter`'s window; how many so far. The window starts at the first
        (INCR keeps the expiry; PEXPIRE's NX needs Redis 7)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(counter, 0, px=math.ceil(self.rule.window_seconds * 1000), nx=True)
            pipe.incr(counter)
            _, count = await pipe.execute()
        return int(count)

    async def _lock(self, lock: str) -> None:
        await self.redis.set(lock, "1", px=math.ceil(self.rule.lock_seconds * 1000))

    async def failed(self, username: str, address: str) -> float:
        """Count a wrong password; the seconds of the lock it started (0: none)."""
        locked = 0.0
        for counter, lock, limit in self._keys(username, address):
            if await self._count(counter) >= limit:
                await self._lock(lock)
                await self.redis.delete(counter)
                locked = self.rule.lock_seconds
        return locked

    async def attempt(self, username: str, address: str) -> float:
        """Count an attempt BEFORE it is made; the seconds to wait if it is one too many (0:
        go ahead). For what is limited by count itself (an SMS code's sends): a check made
        before the count would let a burst of parallel requests all pass it. The attempt
        that reaches the limit still goes ahead and locks the ones after it."""
        if (wait := await self.locked_for(username, address)) > 0:
            return wait
        for counter, lock, limit in self._keys(username, address):
            count = await self._count(counter)
            if count > limit:  # one of a burst past the limit: counted, refused
                return max(await self.locked_for(username, address), 1.0)
            if count == limit:  # the counter stays until its window ends
                await self._lock(lock)
        return 0.0

    async def succeeded(self, username: str) -> None:
        """A right password clears the username's count (not the address's)."""
        await self.redis.delete(self._keys(username, "-")[0][0])


def lock_message(seconds: float) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return f"密码错误次数过多，登录已暂时锁定，请 {minutes} 分钟后再试，或联系管理员。"
