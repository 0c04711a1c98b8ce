"""Display tokens: a wall screen's revocable credential for the board, scoped to one street
or one district. Only the token's SHA-256 is stored (in Redis, outside the projection's
namespace, so a rebuild or a repair of `sup:*` keeps them).

    python -m chuishao.supervision.display new --street qingshi [--label 大厅大屏]
    python -m chuishao.supervision.display list
    python -m chuishao.supervision.display revoke <id or token>

`ensure --token-file F` (used by `make run`) keeps one token in a file: the one in F if it
still works, else a new one written there.
"""

import argparse
import asyncio
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, cast

import nats
from nats.errors import Error as NatsError
from nats.js.errors import KeyNotFoundError
from pydantic import AwareDatetime, BaseModel, ConfigDict
from redis.asyncio import Redis

from chuishao.common.clients import redis_client
from chuishao.common.place_names import PlaceName
from chuishao.common.places import BUCKET as PLACES
from chuishao.common.settings import ServiceSettings
from chuishao.common.tokens import DISPLAY_TOKEN_PREFIX, hash_api_key, new_display_token

PREFIX = "supervision:display"
INDEX = f"{PREFIX}s"  # set of the digests of live tokens
ID_LENGTH = 12  # the digest's first hex digits name a token in `list` and `revoke`

ScopeLevel = Literal["street", "district"]


class DisplayToken(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    level: ScopeLevel
    place: str
    label: str = ""
    created_at: AwareDatetime


class UnknownToken(LookupError):
    pass


class DisplayTokens:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    @staticmethod
    def _key(digest: str) -> str:
        return f"{PREFIX}:{digest}"

    async def new(self, level: ScopeLevel, place: str, label: str = "") -> tuple[str, DisplayToken]:
        """A new token (shown once, never stored) and what it grants."""
        token = new_display_token()
        digest = hash_api_key(token)
        grant = DisplayToken(
            id=digest[:ID_LENGTH],
            level=level,
            place=place,
            label=label,
            created_at=datetime.now(UTC),
        )
        await self.register(token, grant)
        return token, grant

    async def register(self, token: str, grant: DisplayToken) -> None:
        digest = hash_api_key(token)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(self._key(digest), grant.model_dump_json())
            pipe.sadd(INDEX, digest)
            await pipe.execute()

    async def lookup(self, token: str) -> DisplayToken | None:
        if not token.startswith(DISPLAY_TOKEN_PREFIX):
            return None
        raw = await self.redis.get(self._key(hash_api_key(token)))
        return DisplayToken.model_validate_json(raw) if raw is not None else None

    async def all(self) -> list[DisplayToken]:
        digests = sorted(
            d.decode() if isinstance(d, bytes) else str(d)
            for d in cast("set[bytes]", await self.redis.smembers(INDEX))
        )
        grants = []
        for digest in digests:
            raw = await self.redis.get(self._key(digest))
            if raw is not None:
                grants.append(DisplayToken.model_validate_json(raw))
        return sorted(grants, key=lambda grant: grant.created_at)

    async def revoke(self, id_or_token: str) -> DisplayToken:
        """Revoke by the id `list` shows (or any longer prefix of the digest), or by the
        token itself. Takes effect on the next request: each request looks the token up."""
        if id_or_token.startswith(DISPLAY_TOKEN_PREFIX):
            wanted = hash_api_key(id_or_token)
        else:
            wanted = id_or_token.lower()
        digests = [
            d.decode() if isinstance(d, bytes) else str(d)
            for d in cast("set[bytes]", await self.redis.smembers(INDEX))
        ]
        matches = [d for d in digests if len(wanted) >= ID_LENGTH and d.startswith(wanted)]
        if len(matches) != 1:
            raise UnknownToken(id_or_token)
        digest = matches[0]
        raw = await self.redis.get(self._key(digest))
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(self._key(digest))
            pipe.srem(INDEX, digest)
            await pipe.execute()
        if raw is None:
            raise UnknownToken(id_or_token)
        return DisplayToken.model_validate_json(raw)


def _describe(grant: DisplayToken) -> str:
    where = {"street": "街道 street", "district": "区 district"}[grant.level]
    return (
        f"{grant.id}  {where} {grant.place}  {grant.label or '-'}  "
        f"{grant.created_at:%Y-%m-%d %H:%M} UTC"
    )


async def _quiet(error: Exception) -> None:
    """nats-py logs every failed attempt with a traceback; the caller reports instead."""


async def _unknown_place(level: ScopeLevel, code: str) -> str | None:
    """Why the router's directory (the `places` bucket) has no such street or district;
    None when it has, or when the bucket cannot be read (the token is made anyway)."""
    try:
        connection = await nats.connect(
            ServiceSettings().nats_servers,
            connect_timeout=3,
            # Two tries, then give up: the check is a courtesy, not a must.
            max_reconnect_attempts=1,
            reconnect_time_wait=0.5,
            error_cb=_quiet,
        )
    except (OSError, TimeoutError, NatsError):
        return None
    try:
        entry = await (await connection.jetstream().key_value(PLACES.bucket)).get(code)
        place = PlaceName.model_validate_json(entry.value or b"{}")
    except KeyNotFoundError:
        return f"目录中没有{'街道' if level == 'street' else '区'} {code} / no {level} {code}"
    except (NatsError, ValueError):
        return None
    finally:
        await connection.close()
    if place.kind != level:
        return f"{code} 是 {place.kind}，不是 {level} / {code} is a {place.kind}, not a {level}"
    return None


async def _run(args: argparse.Namespace, redis: Redis) -> int:
    tokens = DisplayTokens(redis)
    if args.command == "new":
        level: ScopeLevel = "street" if args.street else "district"
        problem = await _unknown_place(level, args.street or args.district)
        if problem:
            print(problem, file=sys.stderr)
            return 1
        token, grant = await tokens.new(level, args.street or args.district, args.label)
        if args.quiet:
            print(token)
        else:
            print(f"新的大屏令牌 new display token ({_describe(grant)}):\n{token}")
            print("大屏地址 board URL: http://<supervision>/?token=" + token)
            print(f"吊销 revoke: python -m chuishao.supervision.display revoke {grant.id}")
        return 0
    if args.command == "ensure":
        current = args.existing
        if current and await tokens.lookup(current) is not None:
            print(current)
            return 0
        level = "street" if args.street else "district"
        args.created, _ = await tokens.new(level, args.street or args.district, args.label)
        print(args.created)
        return 0
    if args.command == "list":
        grants = await tokens.all()
        for grant in grants:
            print(_describe(grant))
        if not grants:
            print("没有大屏令牌 no display tokens")
        return 0
    try:
        grant = await tokens.revoke(args.token)
    except UnknownToken:
        print(f"没有这个令牌 no such token: {args.token}", file=sys.stderr)
        return 1
    print(f"已吊销 revoked: {_describe(grant)}")
    return 0


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m chuishao.supervision.display", description=__doc__
    )
    commands = parser.add_subparsers(dest="command", required=True)
    new = commands.add_parser("new", help="make a token for a street's or a district's screen")
    where = new.add_mutually_exclusive_group(required=True)
    where.add_argument("--street", help="street code, e.g. qingshi")
    where.add_argument("--district", help="district code, e.g. yunxi")
    new.add_argument("--label", default="", help="where the screen hangs")
    new.add_argument("--quiet", action="store_true", help="print the token only")
    ensure = commands.add_parser("ensure", help="keep one working token in a file")
    where = ensure.add_mutually_exclusive_group(required=True)
    where.add_argument("--street")
    where.add_argument("--district")
    ensure.add_argument("--label", default="")
    ensure.add_argument("--token-file", type=Path, required=True)
    commands.add_parser("list", help="the live tokens (ids, never the tokens)")
    revoke = commands.add_parser("revoke", help="revoke a token by its id or the token")
    revoke.add_argument("token")
    return parser.parse_args(argv)


async def _with_redis(args: argparse.Namespace) -> int:
    redis = redis_client(ServiceSettings())
    try:
        return await _run(args, redis)
    finally:
        await redis.aclose()


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    path: Path | None = getattr(args, "token_file", None)
    args.existing = path.read_text().strip() if path and path.exists() else None
    args.created = None
    code = asyncio.run(_with_redis(args))
    if path is not None and args.created:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(args.created + "\n")
        os.chmod(path, 0o600)
    sys.exit(code)


if __name__ == "__main__":
    main()
