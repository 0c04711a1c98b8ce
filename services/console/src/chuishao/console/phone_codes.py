"""One-time SMS codes that confirm a resident's phone (the residents' points page), and
the short session they open.

A code is 6 random digits. Redis keeps only an HMAC of it (keyed by a secret the console
derives from its own, so the million possible codes cannot be tried against a dump of
Redis), under a key that is itself an HMAC of the number: the number is in no key, no
value and no log line. A code lives 5 minutes and allows 5 tries; the fifth wrong one
ends it. Sending is throttled per number and per client address (throttle.py's rule: so
many within the window lock further sends for a while). A confirmed code opens a session
of its own (not a console login) that names only the ledger's key of that number
(`reporter_ref`) and ends after 10 minutes, however busy.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from redis.asyncio import Redis

from chuishao.console.throttle import LoginThrottle, ThrottleRule

CODE_DIGITS = 6
# Count a try at the number's code and read the code's MAC; nothing (and no key made)
# when there is no code.
TRY_CODE = """
if redis.call('HEXISTS', KEYS[1], 'mac') == 0 then return false end
return {redis.call('HINCRBY', KEYS[1], 'tries', 1), redis.call('HGET', KEYS[1], 'mac')}
"""


@dataclass(frozen=True)
class CodeRule:
    ttl_seconds: int = 300
    max_tries: int = 5
    session_seconds: int = 600
    # Sends: this many per number within the window lock further sends to it for the
    # window; an address may send `ip_factor` times as many.
    sends_per_phone: int = 3
    send_window_seconds: float = 900.0
    ip_factor: int = 4


class CodeOutcome(StrEnum):
    CONFIRMED = "confirmed"
    WRONG = "wrong"
    EXPIRED = "expired"  # none sent, or older than its 5 minutes (or already used)
    TOO_MANY_TRIES = "too_many_tries"


@dataclass(frozen=True)
class Checked:
    outcome: CodeOutcome
    tries_left: int = 0


class PhoneCodes:
    def __init__(self, redis: Redis, namespace: str, secret: str, rule: CodeRule) -> None:
        self.redis = redis
        self.rule = rule
        self.prefix = f"{namespace}:phone-code"
        # Derived, so the console's token secret itself never keys anything else.
        self._key = hmac.new(secret.encode(), b"phone-codes", hashlib.sha256).digest()
        self.throttle = LoginThrottle(
            redis,
            ThrottleRule(
                failures=rule.sends_per_phone,
                window_seconds=rule.send_window_seconds,
                lock_seconds=rule.send_window_seconds,
                ip_factor=rule.ip_factor,
            ),
            f"{namespace}:phone-code",
        )

    def _mac(self, *parts: str) -> str:
        return hmac.new(self._key, "\x00".join(parts).encode(), hashlib.sha256).hexdigest()

    def _code_key(self, phone: str) -> str:
        return f"{self.prefix}:code:{self._mac('phone', phone)}"

    async def send_wait(self, phone: str, address: str) -> float:
        """Counts a send to this number from this address before it is made: the seconds
        until another may be sent (0: send now, then `issue`). Counted first, atomically,
        so a burst of parallel requests cannot all pass (each send is a text message and
        five fresh tries)."""
        return await self.throttle.attempt(self._mac("phone", phone), address)

    async def issue(self, phone: str) -> str:
        """A new code for the number (it replaces any earlier one); `send_wait` counted it."""
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        key = self._code_key(phone)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            pipe.hset(key, mapping={"mac": self._mac("code", phone, code), "tries": 0})
            pipe.expire(key, self.rule.ttl_seconds)
            await pipe.execute()
        return code

    async def check(self, phone: str, code: str) -> Checked:
        """Try a code; a right one is used up, the last wrong one ends the code."""
        key = self._code_key(phone)
        # The try is counted before it is judged, atomically (HINCRBY keeps the key's
        # expiry), so parallel guesses cannot share one count; and only where a code is,
        # in one script: a guess at a number without one makes no key, so it has nothing to
        # remove afterwards — a DELETE then removed the code issued in between.
        found: list[Any] | None = await self.redis.eval(TRY_CODE, 1, key)
        if not found:  # no code, or it expired
            return Checked(CodeOutcome.EXPIRED)
        tries, mac = found
        if int(tries) > self.rule.max_tries:
            await self.redis.delete(key)
            return Checked(CodeOutcome.TOO_MANY_TRIES)
        stored = mac.decode() if isinstance(mac, bytes) else str(mac)
        if hmac.compare_digest(stored, self._mac("code", phone, code)):
            # Used once: a second request with the same code finds nothing (DELETE's count
            # settles a race between two requests carrying the right code).
            if await self.redis.delete(key) == 1:
                return Checked(CodeOutcome.CONFIRMED)
            return Checked(CodeOutcome.EXPIRED)
        if int(tries) >= self.rule.max_tries:
            await self.redis.delete(key)
            return Checked(CodeOutcome.TOO_MANY_TRIES)
        return Checked(CodeOutcome.WRONG, self.rule.max_tries - int(tries))

    # --- the session a confirmed code opens

    def _session_key(self, session_id: str) -> str:
        return f"{self.prefix}:session:{hashlib.sha256(session_id.encode()).hexdigest()}"

    async def open_session(self, reporter_ref: str) -> str:
        session_id = secrets.token_urlsafe(32)
        await self.redis.set(
            self._session_key(session_id), reporter_ref, ex=self.rule.session_seconds
        )
        return session_id

    async def session(self, session_id: str) -> str | None:
        """The reporter_ref of a live session (never extended: it ends 10 minutes on)."""
        raw = await self.redis.get(self._session_key(session_id))
        return raw.decode() if isinstance(raw, bytes) else raw

    async def close_session(self, session_id: str) -> None:
        await self.redis.delete(self._session_key(session_id))
