"""Hotspot warnings by SMS to the command-centre people (the `console-hotspots` consumer).

Notify tells the street's command-centre *unit* of a `HotspotDetected` (its subject, webhook
and duty phone). The *people* are the console's: each enabled `command_centre` account whose
street is the warning's and that has a duty mobile gets one SMS, when the policy
(`CHUISHAO_CONSOLE_HOTSPOT_SMS`, default on) says so. The console asks notify to send it
(`internal.notify.hotspot_sms`: codes and counts only; notify renders its fixed text).

Once per warning per account, however often the warning is redelivered: a Redis key per
event × account is set after notify confirmed the send, and an account whose key exists is
skipped. A failed send raises, and the runtime's delivery policy retries the warning (the
accounts already texted are skipped) and dead-letters it after the consumer's budget. The
number is never logged, nor put in an exception's text (the policy logs those).
"""

import hashlib
import json
from typing import Any

import structlog
from nats.aio.client import Client
from nats.errors import Error as NatsError
from redis.asyncio import Redis

from chuishao.common import subjects
from chuishao.common.events import HotspotDetected
from chuishao.common.place_names import PlaceLookup, street_of
from chuishao.common.roles import PersonRole
from chuishao.console.accounts import Account, AccountStore

log = structlog.get_logger()
TIMEOUT = 10.0
# Kept well past any redelivery (the consumer's back-off adds up to about a minute).
SENT_TTL_SECONDS = 7 * 86_400


class HotspotSmsFailed(RuntimeError):
    """Notify did not confirm a send; the warning is retried (names no number)."""


def request_id(event_id: str, username: str) -> str:
    """The gateway's de-duplication id: stable for the warning × the account."""
    return hashlib.sha256(f"{event_id}|{username}".encode()).hexdigest()[:32]


class HotspotTexts:
    def __init__(
        self,
        accounts: AccountStore,
        redis: Redis,
        places: PlaceLookup,
        *,
        enabled: bool,
        namespace: str = "console",
    ) -> None:
        self.accounts = accounts
        self.redis = redis
        self.places = places
        self.enabled = enabled
        self.prefix = f"{namespace}:hotspot-sms"
        self.nats: Client | None = None

    async def recipients(self, warning: HotspotDetected) -> list[Account]:
        street = warning.street or street_of(self.places, warning.grid_code)
        if street is None:
            return []
        return [
            account
            for account in await self.accounts.all()
            if account.role == PersonRole.COMMAND_CENTRE
            and not account.disabled
            and account.street == street
            and account.phone
        ]

    async def on_warning(self, warning: HotspotDetected) -> None:
        if not self.enabled:
            return
        failed = 0
        for account in await self.recipients(warning):
            key = f"{self.prefix}:{warning.event_id}:{account.username}"
            if await self.redis.exists(key):
                continue  # texted on an earlier delivery
            if await self._send(warning, account):
                await self.redis.set(key, "1", nx=True, ex=SENT_TTL_SECONDS)
                log.info("hotspot_sms_sent", account=account.username, event_id=warning.event_id)
            else:
                failed += 1
        if failed:
            raise HotspotSmsFailed(f"{failed} hotspot SMS not sent for {warning.event_id}")

    async def _send(self, warning: HotspotDetected, account: Account) -> bool:
        assert self.nats is not None, "the console is not connected"
        body = {
            "request_id": request_id(warning.event_id, account.username),
            "phone": account.phone,
            "grid_code": warning.grid_code,
            "street": warning.street or street_of(self.places, warning.grid_code),
            "category": warning.category,
            "count": warning.count,
            "threshold": warning.threshold,
            "window_seconds": warning.window_seconds,
        }
        try:
            reply = await self.nats.request(
                subjects.NOTIFY_HOTSPOT_SMS, json.dumps(body).encode(), timeout=TIMEOUT
            )
            sent: dict[str, Any] = json.loads(reply.data or b"{}")
        except (NatsError, TimeoutError, ValueError) as failure:
            reason = type(failure).__name__
            log.warning("hotspot_sms_not_sent", account=account.username, error=reason)
            return False
        if sent.get("ok") is not True:
            error = sent.get("error")
            code = error.get("code") if isinstance(error, dict) else None
            log.warning("hotspot_sms_refused", account=account.username, code=code)
            return False
        return True
