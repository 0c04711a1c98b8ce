"""The points ledger rebuilt from the streams, compared with the live one in Redis.

`python -m chuishao.points.rebuild` replays TICKETS (the events the points consumer
reads) and POINTS (the exchanges) into a fresh ledger in memory, by the same rules
(`chuishao.points.ledger`), and prints where the live ledger differs: a balance, or a
line one has and the other has not. Exit status 1 when they differ. Run it once the
points consumer has caught up (the live ledger lags the stream until then).

`--apply` replaces the live ledger with the rebuilt one (reports, balances, daily
earnings, lines, exchanges, and the memory of which events were applied, so the consumer
applies nothing twice afterwards). Stop the points service first; it refuses while an
exchange is still pending (not yet in POINTS)."""

import argparse
import asyncio
import json
import sys
from dataclasses import dataclass, field

import nats
from nats.js import JetStreamContext
from pydantic import ValidationError

from chuishao.common import stream_reader, subjects
from chuishao.common.clients import redis_client
from chuishao.common.events import PointsExchanged, parse_event
from chuishao.common.streams import POINTS, POINTS_LEDGER, TICKETS
from chuishao.points import keys
from chuishao.points.ledger import Ledger
from chuishao.points.policy import PointsPolicy
from chuishao.points.settings import PointsSettings
from chuishao.points.store import PointsStore


async def replay(js: JetStreamContext, policy: PointsPolicy) -> Ledger:
    """A fresh ledger from the streams, up to their ends now."""
    ledger = Ledger.empty(policy)
    assert TICKETS.name is not None
    assert POINTS.name is not None
    until = await stream_reader.last_sequence(js, TICKETS.name)
    filters = list(POINTS_LEDGER.filter_subjects)
    async for _, data in stream_reader.read(js, TICKETS.name, 0, until, filters):
        try:
            ledger.apply(parse_event(data))
        except ValidationError:
            continue  # the live consumer dead-letters it: it changed nothing there either
    until = await stream_reader.last_sequence(js, POINTS.name)
    async for _, data in stream_reader.read(js, POINTS.name, 0, until, [subjects.POINTS_EVENTS]):
        try:
            ledger.exchange(PointsExchanged.model_validate_json(data))
        except ValidationError:
            continue
    return ledger


@dataclass
class Difference:
    balances: dict[str, tuple[int, int]] = field(default_factory=dict)  # ref → (live, rebuilt)
    only_live: dict[str, list[str]] = field(default_factory=dict)  # ref → line ids
    only_rebuilt: dict[str, list[str]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.balances or self.only_live or self.only_rebuilt)


async def compare(store: PointsStore, rebuilt: Ledger) -> Difference:
    """Where the live ledger differs from the rebuilt one (balances and lines by id and
    points)."""
    difference = Difference()
    for ref in sorted(set(await store.reporters()) | set(rebuilt.balances)):
        live, again = await store.balance(ref), rebuilt.balances.get(ref, 0)
        if live != again:
            difference.balances[ref] = (live, again)
        live_lines = {(e.entry_id, e.points) for e in await store.history(ref)}
        rebuilt_lines = {(e.entry_id, e.points) for e in rebuilt.history.get(ref, [])}
        if live_lines - rebuilt_lines:
            difference.only_live[ref] = sorted(f"{i}:{p}" for i, p in live_lines - rebuilt_lines)
        if rebuilt_lines - live_lines:
            difference.only_rebuilt[ref] = sorted(f"{i}:{p}" for i, p in rebuilt_lines - live_lines)
    return difference


async def run(settings: PointsSettings, *, apply: bool = False) -> int:
    policy = PointsPolicy.load(settings.points_policy_file)
    connection = await nats.connect(settings.nats_servers)
    redis = redis_client(settings)
    restored = False
    try:
        store = PointsStore(redis, policy)
        rebuilt = await replay(connection.jetstream(), policy)
        difference = await compare(store, rebuilt)
        if apply and difference:
            if await redis.zcard(keys.PENDING):
                print("exchanges are pending: start the service to relay them first")
                return 2
            await store.restore(rebuilt, list(rebuilt.exchanges.values()))
            restored = True
    finally:
        await connection.close()
        await redis.aclose()
    report = {
        "restored": restored,
        "reporters": len(rebuilt.balances),
        "points_outstanding": sum(rebuilt.balances.values()),
        "same": not difference,
        "balances": {ref: list(pair) for ref, pair in difference.balances.items()},
        "only_live": difference.only_live,
        "only_rebuilt": difference.only_rebuilt,
    }
    print(json.dumps(report, ensure_ascii=False, indent=2))
    return 1 if difference and not restored else 0


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m chuishao.points.rebuild", description=__doc__)
    parser.add_argument(
        "--apply",
        action="store_true",
        help="replace the live ledger with the rebuilt one (stop the points service first)",
    )
    arguments = parser.parse_args()
    sys.exit(asyncio.run(run(PointsSettings(), apply=arguments.apply)))


if __name__ == "__main__":
    main()
