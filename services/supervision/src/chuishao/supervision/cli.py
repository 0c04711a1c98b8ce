"""`python -m chuishao.supervision` runs the service;
`python -m chuishao.supervision rebuild` replays the ticket stream into fresh keys and
compares them with the live projection (exit 1 if they differ)."""

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import nats

from chuishao.common import packing
from chuishao.common.clients import redis_client
from chuishao.supervision.app import serve
from chuishao.supervision.keys import SupervisionKeys, text
from chuishao.supervision.rebuild import clear, differences, rebuild, snapshot
from chuishao.supervision.service import hotspot_rule
from chuishao.supervision.settings import SupervisionSettings

NO_MONTHS = "9999-99"  # no month compared: the live projection has no month mark


async def rebuild_and_compare(settings: SupervisionSettings, namespace: str, keep: bool) -> int:
    connection = await nats.connect(settings.nats_url)
    redis = redis_client(settings)
    try:
        replayed = await rebuild(
            connection.jetstream(),
            redis,
            namespace,
            ZoneInfo(settings.supervision_timezone),
            hotspot_rule(settings),
        )
        live_keys = SupervisionKeys(settings.supervision_namespace)
        # Month hashes are compared where the live projection has them complete.
        since = await redis.get(live_keys.months_since)
        months_from = text(since) if since is not None else NO_MONTHS
        live = await snapshot(redis, live_keys, months_from)
        rebuilt = await snapshot(redis, SupervisionKeys(namespace), months_from)
        problems = differences(live, rebuilt)
        print(
            f"replayed {replayed.events} events into {namespace!r} "
            f"({replayed.skipped} of unknown types skipped); {len(rebuilt)} keys"
        )
        for problem in problems[:50]:
            print("  differs:", problem)
        print("live projection and rebuild agree" if not problems else f"{len(problems)} differ")
        if not keep:
            await clear(redis, SupervisionKeys(namespace))
        return 1 if problems else 0
    finally:
        await redis.aclose()
        await connection.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m chuishao.supervision", description=__doc__)
    parser.add_argument("command", nargs="?", default="serve", choices=["serve", "rebuild"])
    parser.add_argument("--namespace", help="where the rebuild writes (default: a new one)")
    parser.add_argument("--keep", action="store_true", help="keep the rebuilt keys")
    args = parser.parse_args(argv)
    settings = SupervisionSettings()
    if args.command == "serve":
        serve(settings)
        return
    packing.configure(packed=settings.packed_values)  # write what the replicas can read
    packing.check_dictionaries()
    namespace = args.namespace or f"sup-rebuild-{datetime.now(UTC):%Y%m%d%H%M%S}"
    sys.exit(asyncio.run(rebuild_and_compare(settings, namespace, args.keep)))


if __name__ == "__main__":
    main()
