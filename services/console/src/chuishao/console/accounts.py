"""People's accounts: a username, a role with its scope, an argon2id hash of the password.

Kept in Redis (one hash, username → JSON), so every console process sees the same accounts
and a disabled account is refused at once everywhere. Managed by the admin page
(web/admin.py) and by this command:

    python -m chuishao.console.accounts add wang --role clerk --unit grid-heyuan
    python -m chuishao.console.accounts add li --role command_centre --street qingshi
        --phone 13800138000                                  # (one line)
    python -m chuishao.console.accounts phone li 13900139000   # or --clear
    python -m chuishao.console.accounts list
    python -m chuishao.console.accounts disable wang
    python -m chuishao.console.accounts enable wang
    python -m chuishao.console.accounts reset wang       # prints a new password
"""

import argparse
import asyncio
import json
import re
import secrets
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import BaseModel, Field
from redis.asyncio import Redis

from chuishao.common.clients import redis_client
from chuishao.common.roles import SCOPE_FIELD, PersonRole

if TYPE_CHECKING:
    from chuishao.console.settings import ConsoleSettings

SEED_ORDER = (
    PersonRole.ADMIN,
    PersonRole.CITY,
    PersonRole.DISTRICT,
    PersonRole.COMMAND_CENTRE,
    PersonRole.OPERATOR,
    PersonRole.CLERK,
)
USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,63}$")
# A duty mobile (hotspot warnings by SMS, hotspot_sms.py): ASCII digits only.
PHONE = re.compile(r"^1[3-9][0-9]{9}$")
MIN_PASSWORD = 10
# argon2id with the library's defaults (RFC 9106's "low memory" profile: 64 MiB, 3 passes,
# about 0.1 s of one core; 0.3 s on a loaded 2-core machine).
HASHER = PasswordHasher()


class AccountError(ValueError):
    """An account that cannot be made as asked; the message is Chinese, for the person."""


class Account(BaseModel):
    username: str
    role: PersonRole
    unit: str | None = None
    street: str | None = None
    district: str | None = None
    password_hash: str
    disabled: bool = False
    created_at: float = 0.0
    # Duty mobile for hotspot warnings by SMS; never logged, never in an event.
    phone: str | None = Field(default=None, pattern=PHONE.pattern, repr=False)

    @property
    def scope(self) -> str | None:
        """The unit, street or district the role acts for (None: everywhere/nothing)."""
        field = SCOPE_FIELD[self.role]
        value: str | None = getattr(self, field) if field else None
        return value


def new_password() -> str:
    """16 URL-safe characters (96 bits): typed once, then changed by a reset if wanted."""
    return secrets.token_urlsafe(12)


def checked_phone(phone: str | None) -> str | None:
    """The duty mobile as kept (None: none); AccountError if it is not a mainland mobile."""
    phone = (phone or "").strip()
    if not phone:
        return None
    if not PHONE.fullmatch(phone):
        raise AccountError("手机号应为 11 位大陆手机号（1 开头的数字）")
    return phone


def scoped(role: PersonRole, scope: str | None) -> dict[str, str | None]:
    """The unit/street/district fields of a role with its scope; AccountError if missing."""
    field = SCOPE_FIELD[role]
    if field is None:
        return {"unit": None, "street": None, "district": None}
    if not scope:
        raise AccountError(f"角色 {role.value} 需要指定 {field}")
    return {"unit": None, "street": None, "district": None, field: scope}


class AccountStore:
    def __init__(
        self, redis: Redis, namespace: str = "console", hasher: PasswordHasher = HASHER
    ) -> None:
        self.redis = redis
        self.key = f"{namespace}:accounts"
        self.hasher = hasher
        self._dummy_hash: str | None = None

    async def get(self, username: str) -> Account | None:
        raw = await self.redis.hget(self.key, username)
        return Account.model_validate_json(raw) if raw is not None else None

    async def all(self) -> list[Account]:
        raw = await self.redis.hgetall(self.key)
        accounts = [Account.model_validate_json(value) for value in raw.values()]
        return sorted(accounts, key=lambda account: (account.role, account.username))

    async def _put(self, account: Account) -> None:
        await self.redis.hset(self.key, account.username, account.model_dump_json())

    async def add(
        self,
        username: str,
        role: PersonRole,
        scope: str | None,
        password: str | None = None,
        phone: str | None = None,
    ) -> tuple[Account, str]:
        """A new account and its password (generated unless given)."""
        username = username.strip().lower()
        if not USERNAME.match(username):
            raise AccountError("用户名只能用小写字母、数字和 _ . -，2 到 64 个字符")
        phone = checked_phone(phone)
        password = password or new_password()
        if len(password) < MIN_PASSWORD:
            raise AccountError(f"密码至少 {MIN_PASSWORD} 个字符")
        digest = await asyncio.to_thread(self.hasher.hash, password)
        account = Account(
            username=username,
            role=role,
            password_hash=digest,
            created_at=time.time(),
            phone=phone,
            **scoped(role, scope),
        )
        added = await self.redis.hsetnx(self.key, username, account.model_dump_json())
        if not added:
            raise AccountError(f"用户名 {username} 已存在")
        return account, password

    async def set_disabled(self, username: str, disabled: bool) -> Account:
        account = await self._existing(username)
        account = account.model_copy(update={"disabled": disabled})
        await self._put(account)
        return account

    async def set_phone(self, username: str, phone: str | None) -> Account:
        """Set (or, with None or "", clear) the account's duty mobile."""
        phone = checked_phone(phone)
        account = await self._existing(username)
        account = account.model_copy(update={"phone": phone})
        await self._put(account)
        return account

    async def reset(self, username: str, password: str | None = None) -> tuple[Account, str]:
        account = await self._existing(username)
        password = password or new_password()
        if len(password) < MIN_PASSWORD:
            raise AccountError(f"密码至少 {MIN_PASSWORD} 个字符")
        digest = await asyncio.to_thread(self.hasher.hash, password)
        account = account.model_copy(update={"password_hash": digest})
        await self._put(account)
        return account, password

    async def check(self, username: str, password: str) -> Account | None:
        """The account when the password is right and the account enabled; None otherwise
        (taking the same time whether or not the username exists)."""
        account = await self.get(username.strip().lower())
        if account is not None:
            digest = account.password_hash
        else:
            # A hash is verified all the same, so a wrong username costs the time of a
            # wrong password and does not tell which usernames exist.
            if self._dummy_hash is None:
                self._dummy_hash = await asyncio.to_thread(self.hasher.hash, "no one's password")
            digest = self._dummy_hash
        try:
            await asyncio.to_thread(self.hasher.verify, digest, password)
        except (VerificationError, InvalidHashError):
            return None
        if account is None or account.disabled:
            return None
        return account

    async def seed(self, path: Path) -> int:
        """Add the accounts of a file like .data/accounts.json that do not exist yet."""
        added = 0
        entries = json.loads(await asyncio.to_thread(path.read_text))
        # The few accounts people try first come first (hashing them all takes a while):
        # admin, city, district, command centres, operator, then the clerks.
        entries.sort(key=lambda entry: SEED_ORDER.index(PersonRole(entry["role"])))
        for entry in entries:
            role = PersonRole(entry["role"])
            field = SCOPE_FIELD[role]
            if await self.get(entry["username"]) is not None:
                continue
            try:
                await self.add(
                    entry["username"], role, entry.get(field) if field else None, entry["password"]
                )
                added += 1
            except AccountError as error:
                if "已存在" not in str(error):  # another console process won the race
                    raise
        return added

    async def _existing(self, username: str) -> Account:
        account = await self.get(username.strip().lower())
        if account is None:
            raise AccountError(f"没有用户 {username}")
        return account


def hasher(settings: "ConsoleSettings") -> PasswordHasher:
    return PasswordHasher(
        time_cost=settings.password_hash_time_cost,
        memory_cost=settings.password_hash_memory_kib,
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m chuishao.console.accounts", description="管理控制台账号 (console accounts)"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="新建账号，打印生成的密码")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=[role.value for role in PersonRole])
    add.add_argument("--unit", help="clerk: 单位 id")
    add.add_argument("--street", help="command_centre: 街道代码")
    add.add_argument("--district", help="district: 区代码")
    add.add_argument("--phone", help="值班手机号（热点预警短信，command_centre）")
    phone = commands.add_parser("phone", help="设置或清除值班手机号")
    phone.add_argument("username")
    phone.add_argument("number", nargs="?", default=None)
    phone.add_argument("--clear", action="store_true")
    for name, text in (("disable", "停用账号"), ("enable", "启用账号"), ("reset", "重置密码")):
        commands.add_parser(name, help=text).add_argument("username")
    commands.add_parser("list", help="列出账号")
    return parser


async def _run(args: argparse.Namespace) -> str:
    from chuishao.console.settings import ConsoleSettings  # noqa: PLC0415 - CLI only

    settings = ConsoleSettings()
    redis = redis_client(settings)
    store = AccountStore(redis, settings.console_namespace, hasher(settings))
    try:
        if args.command == "add":
            role = PersonRole(args.role)
            field = SCOPE_FIELD[role]
            account, password = await store.add(
                args.username, role, getattr(args, field) if field else None, phone=args.phone
            )
            return f"{account.username}\t{password}"
        if args.command == "phone":
            if not args.clear and not args.number:
                raise AccountError("请给出手机号，或用 --clear 清除")
            account = await store.set_phone(args.username, None if args.clear else args.number)
            return f"{account.username}\t{'phone set' if account.phone else 'phone cleared'}"
        if args.command in ("disable", "enable"):
            account = await store.set_disabled(args.username, args.command == "disable")
            return f"{account.username}\t{'disabled' if account.disabled else 'enabled'}"
        if args.command == "reset":
            account, password = await store.reset(args.username)
            return f"{account.username}\t{password}"
        return "\n".join(
            f"{a.username}\t{a.role.value}\t{a.scope or '-'}\t{'disabled' if a.disabled else ''}"
            for a in await store.all()
        )
    finally:
        await redis.aclose()


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    try:
        print(asyncio.run(_run(args)))
    except AccountError as error:
        print(f"错误: {error}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
