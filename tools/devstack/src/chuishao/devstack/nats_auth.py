"""nats-server accounts: the services in one account with the streams, each unit alone in
an account of its own that sees only what the services account exports to it.

    python -m chuishao.devstack.nats_auth > config/nats-auth.conf   (ops; passwords to stderr)
    python -m chuishao.devstack.nats_auth feeds    (as the services user: each unit's consumer)

Why accounts and not only per-user permissions: nats-server never checks the reply subject
of a request. In one shared account a unit could send `cmd.unit.<own>.<verb>`, or any
JetStream API request it may make (`CONSUMER.INFO`, `MSG.NEXT`, an ack), with a reply
subject such as `ticket.submitted.X` or `$KV.catalogue.fire_box`, and intake or the server
itself would publish there with full rights (a confused deputy). Across accounts the server
rewrites every reply subject to a private `_R_.…` subject that leads back to the caller's own
account only, so whatever reply subject a unit picks, the answer lands in its own account.

What a unit's account holds (imported from SERVICES, exported to that account alone):

    cmd.unit.<unit>.>                         its own commands (request/reply to intake)
    dept.<unit>.>                             its own deliveries, live
    JS.UNITS.API.CONSUMER.INFO|MSG.NEXT.UNITS.unit-<unit>   its durable feed, through the
    $JS.ACK.UNITS.unit-<unit>.>               JetStream API prefix `UNIT_JS_PREFIX`, and acks

Nothing else: no stream info, listing or direct get (they would show other units'
subjects), no consumer creation (nats-server does not check a push consumer's deliver
subject against the creator's rights, nats-io/nats-server#8274, so the services create each
unit's pull consumer: `feeds`). Replies reach a unit under `_INBOX.<unit>.>`, the only
inbox it may subscribe to; its client connects with `inbox_prefix=_INBOX.<unit>`.

Passwords are stored bcrypt-hashed in the server config; the plain ones go to whoever
runs the unit's client, never into the repository.
"""

import asyncio
import json
import secrets
import sys
from collections.abc import Iterable
from typing import Any

import bcrypt
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig

from chuishao.common import subjects
from chuishao.common.replies import unit_inbox_prefix
from chuishao.common.streams import UNITS

SERVICES_USER = "services"
SERVICES_ACCOUNT = "SERVICES"
# A unit's client: `nc.jetstream(prefix=UNIT_JS_PREFIX)`. Inside a unit's account `$JS.API.>`
# belongs to the server (the account has no JetStream of its own), so the few imported
# JetStream API subjects live under this prefix instead.
UNIT_JS_PREFIX = "JS.UNITS.API"
JS_API = "$JS.API"
FEED_STREAM = str(UNITS.name)  # deliveries to units, dept.<unit>.>


def unit_user(unit_id: str) -> str:
    return f"unit-{unit_id}"


def unit_consumer(unit_id: str) -> str:
    """The durable pull consumer on UNITS that is the unit's feed."""
    return unit_user(unit_id)


def unit_account(unit_id: str) -> str:
    return f"UNIT_{unit_id}"


def unit_services(unit_id: str) -> dict[str, str]:
    """Request subjects of the services account a unit may call → their response type
    (`Stream`: a pull request is answered by a batch of messages)."""
    stream, consumer = FEED_STREAM, unit_consumer(unit_id)
    return {
        subjects.unit_command(unit_id, ">"): "Singleton",
        f"{JS_API}.CONSUMER.INFO.{stream}.{consumer}": "Singleton",
        f"{JS_API}.CONSUMER.MSG.NEXT.{stream}.{consumer}": "Stream",
        f"$JS.ACK.{stream}.{consumer}.>": "Singleton",
    }


def as_seen_by_unit(subject: str) -> str:
    """The name an imported subject has inside a unit's account."""
    if subject.startswith(f"{JS_API}."):
        return UNIT_JS_PREFIX + subject.removeprefix(JS_API)
    return subject


def unit_permissions(unit_id: str) -> dict[str, Any]:
    """Belt and braces inside the unit's own account: publish only to the imports, receive
    only its deliveries and replies. No `allow_responses`: a unit answers no requests."""
    return {
        "publish": [as_seen_by_unit(subject) for subject in unit_services(unit_id)],
        "subscribe": [subjects.unit_inbox(unit_id), f"{unit_inbox_prefix(unit_id)}.>"],
    }


def unit_account_config(unit_id: str, password_hash: str) -> dict[str, Any]:
    imports: list[dict[str, Any]] = [
        {
            "service": {"account": SERVICES_ACCOUNT, "subject": subject},
            "to": as_seen_by_unit(subject),
        }
        for subject in unit_services(unit_id)
    ]
    imports.append(
        {"stream": {"account": SERVICES_ACCOUNT, "subject": subjects.unit_inbox(unit_id)}}
    )
    user = {
        "user": unit_user(unit_id),
        "password": password_hash,
        "permissions": unit_permissions(unit_id),
    }
    return {"users": [user], "imports": imports}


def services_account_config(unit_ids: Iterable[str], password_hash: str) -> dict[str, Any]:
    exports: list[dict[str, Any]] = []
    for unit_id in unit_ids:
        only = [unit_account(unit_id)]
        for subject, response in unit_services(unit_id).items():
            exports.append({"service": subject, "response_type": response, "accounts": only})
        exports.append({"stream": subjects.unit_inbox(unit_id), "accounts": only})
    return {
        "jetstream": "enabled",
        "users": [{"user": SERVICES_USER, "password": password_hash}],
        "exports": exports,
    }


def _hash(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=10)).decode()


def accounts_block(unit_ids: Iterable[str], passwords: dict[str, str]) -> str:
    """The `accounts { … }` block; `passwords` maps user → plain text."""
    unit_ids = list(unit_ids)
    accounts = {
        SERVICES_ACCOUNT: services_account_config(unit_ids, _hash(passwords[SERVICES_USER]))
    }
    for unit_id in unit_ids:
        accounts[unit_account(unit_id)] = unit_account_config(
            unit_id, _hash(passwords[unit_user(unit_id)])
        )
    # JSON is valid nats-server configuration syntax.
    return "accounts " + json.dumps(accounts, indent=2) + "\n"


def new_passwords(unit_ids: Iterable[str]) -> dict[str, str]:
    names = [SERVICES_USER, *(unit_user(unit_id) for unit_id in unit_ids)]
    return {name: secrets.token_urlsafe(24) for name in names}


def unit_feed(unit_id: str) -> ConsumerConfig:
    """A unit's durable feed: pull only (a pull consumer cannot be turned into a push one),
    filtered to its own deliveries."""
    return ConsumerConfig(
        name=unit_consumer(unit_id),
        durable_name=unit_consumer(unit_id),
        filter_subject=subjects.unit_inbox(unit_id),
        ack_policy=AckPolicy.EXPLICIT,
    )


async def provision_unit_feeds(js: JetStreamContext, unit_ids: Iterable[str]) -> None:
    """Create (or leave as they are) the units' consumers; run as the services user."""
    for unit_id in unit_ids:
        await js.add_consumer(FEED_STREAM, unit_feed(unit_id))


def _unit_ids() -> list[str]:
    from chuishao.router.directory import Directory  # noqa: PLC0415 - only the CLI needs it
    from chuishao.router.settings import RouterSettings  # noqa: PLC0415

    return [unit.id for unit in Directory.load(RouterSettings().directory_file).units]


async def _feeds(unit_ids: list[str]) -> None:
    import nats  # noqa: PLC0415

    from chuishao.common.settings import ServiceSettings  # noqa: PLC0415
    from chuishao.common.streams import provision  # noqa: PLC0415

    settings = ServiceSettings()
    nc = await nats.connect(settings.nats_servers)
    try:
        await provision(nc.jetstream(), replicas=settings.stream_replicas)
        await provision_unit_feeds(nc.jetstream(), unit_ids)
    finally:
        await nc.close()


def main() -> None:
    unit_ids = _unit_ids()
    if sys.argv[1:] == ["feeds"]:
        asyncio.run(_feeds(unit_ids))
        return
    passwords = new_passwords(unit_ids)
    print(accounts_block(unit_ids, passwords))
    print(json.dumps(passwords, indent=2), file=sys.stderr)


if __name__ == "__main__":
    main()
