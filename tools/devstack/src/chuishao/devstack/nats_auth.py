"""nats-server users for every unit: each may read only its own subjects (`dept.<unit>.>`,
live or through its own durable JetStream consumer) and publish only its own commands
(`cmd.unit.<unit>.>`). The services share one user with full rights.

    python -m chuishao.devstack.nats_auth > config/nats-auth.conf   (ops; passwords to stderr)

Passwords are stored bcrypt-hashed in the server config; the plain ones go to whoever
runs the unit's client, never into the repository.
"""

import json
import secrets
import sys
from collections.abc import Iterable

import bcrypt

from chuishao.common import subjects

SERVICES_USER = "services"


def unit_user(unit_id: str) -> str:
    return f"unit-{unit_id}"


def unit_inbox_prefix(unit_id: str) -> str:
    """Replies to a unit's requests arrive under its own inbox, invisible to others."""
    return f"_INBOX_{unit_id}"


def unit_permissions(unit_id: str) -> dict[str, list[str]]:
    consumer = unit_user(unit_id)
    publish = [
        subjects.unit_command(unit_id, ">"),
        "$JS.API.INFO",
        "$JS.API.STREAM.INFO.UNITS",
        # Its own durable consumer on the UNITS stream, filtered to its own subjects only.
        f"$JS.API.CONSUMER.CREATE.UNITS.{consumer}.{subjects.unit_inbox(unit_id)}",
        f"$JS.API.CONSUMER.INFO.UNITS.{consumer}",
        f"$JS.API.CONSUMER.MSG.NEXT.UNITS.{consumer}",
        f"$JS.ACK.UNITS.{consumer}.>",
    ]
    subscribe = [subjects.unit_inbox(unit_id), f"{unit_inbox_prefix(unit_id)}.>"]
    return {"publish": publish, "subscribe": subscribe}


def _hash(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=10)).decode()


def authorization_block(unit_ids: Iterable[str], passwords: dict[str, str]) -> str:
    """The `authorization { users = [...] }` block; `passwords` maps user → plain text."""
    users: list[dict[str, object]] = [
        {"user": SERVICES_USER, "password": _hash(passwords[SERVICES_USER])}
    ]
    for unit_id in unit_ids:
        user = unit_user(unit_id)
        users.append(
            {
                "user": user,
                "password": _hash(passwords[user]),
                "permissions": unit_permissions(unit_id),
            }
        )
    # JSON is valid nats-server configuration syntax.
    return "authorization " + json.dumps({"users": users}, indent=2) + "\n"


def new_passwords(unit_ids: Iterable[str]) -> dict[str, str]:
    names = [SERVICES_USER, *(unit_user(unit_id) for unit_id in unit_ids)]
    return {name: secrets.token_urlsafe(24) for name in names}


def main() -> None:
    from chuishao.router.directory import Directory  # noqa: PLC0415 - only the CLI needs it
    from chuishao.router.settings import RouterSettings  # noqa: PLC0415

    unit_ids = [unit.id for unit in Directory.load(RouterSettings().directory_file).units]
    passwords = new_passwords(unit_ids)
    print(authorization_block(unit_ids, passwords))
    print(json.dumps(passwords, indent=2), file=sys.stderr)


if __name__ == "__main__":
    main()
