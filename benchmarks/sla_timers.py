"""SLA timers: 1,000,000 clocks armed, and 10,000 falling due in the same second.

Measured on real redis-server and nats-server (both from the PyPI wheels, nats-server
with `sync_interval: always`, Redis with `appendonly yes`, as shipped), in one run:

Redis sorted set + atomic claim (the store sla uses)
1. memory of the timer set holding 1,000,000 timers, and ZADD arming throughput;
2. the full arming path of sla (event applied, ticket state, timer, SlaClockArmed
   published and acknowledged) for 10,000 tickets, with state memory per ticket;
3. escalation lateness when those 10,000 fall due in the same second, among the
   1,000,000: from the deadline to each TicketEscalated stored in JetStream, p50/p99.

NATS message schedules (the alternative, `Nats-Schedule: @at`)
4. 1,000,000 schedules: arming throughput (async publish, acknowledged) and the
   server's memory and store size, on NATS's default fsync interval (a million fsynced
   writes would take many minutes here), and the arming throughput of 10,000 with
   `sync_interval: always`;
5. 10,000 schedules due in the same second: delivery lateness to a consumer (the bare
   store only; sla's processing would come on top, as in 3).

Run: `.venv/bin/python benchmarks/sla_timers.py` (about two minutes on 2 cores). Prints a
Markdown table for docs/benchmarks.md; `--json FILE` also writes the figures.
"""

import argparse
import asyncio
import contextlib
import json
import os
import platform
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import nats
import psutil
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import StorageType, StreamConfig
from redis.asyncio import Redis

# Run as a script, this folder is on the path.
from stack import servers

from chuishao.common.clients import packing_in_c
from chuishao.common.clock import ManualClock
from chuishao.common.domain import Level, Location, Priority, Role, Whistle
from chuishao.common.events import TicketDispatched
from chuishao.common.logging import configure_logging
from chuishao.common.loops import every
from chuishao.common.streams import SLA, provision
from chuishao.embedded import NatsServer, RedisServer, free_port
from chuishao.sla import keys
from chuishao.sla.bootstrap import RELAY_SECONDS
from chuishao.sla.policies import PolicyBook
from chuishao.sla.settings import SlaSettings
from chuishao.sla.supervisor import Supervisor

HOUR = 3600.0


class SteerableClock:
    """Real time plus an offset the benchmark sets, like the stack's shared clock."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.offset)

    def stamp(self) -> float:
        return time.time() + self.offset


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


@contextlib.asynccontextmanager
async def connections(nats_url: str, redis_url: str) -> AsyncIterator[tuple[Client, Redis]]:
    nc = await nats.connect(nats_url)
    redis = packing_in_c(Redis.from_url(redis_url))  # as the services' own clients pack
    try:
        yield nc, redis
    finally:
        await nc.close()
        await redis.aclose()


async def used_memory(redis: Redis) -> int:
    return int((await redis.info("memory"))["used_memory"])


# --- Redis sorted set


async def arm_sorted_set(redis: Redis, count: int, due_from: float) -> dict[str, float]:
    before = await used_memory(redis)
    batch = 10_000
    started = time.perf_counter()
    for first in range(0, count, batch):
        async with redis.pipeline(transaction=False) as pipe:
            for n in range(first, min(first + batch, count)):
                spread = (n * 2_654_435_761) % (30 * 86_400)  # scattered over 30 days
                pipe.zadd(keys.TIMERS, {f"F{n:08d}": due_from + spread})
            await pipe.execute()
    elapsed = time.perf_counter() - started
    exact = await redis.memory_usage(keys.TIMERS, samples=0)
    return {
        "count": count,
        "arm_seconds": elapsed,
        "arm_per_second": count / elapsed,
        "set_bytes": int(exact or 0),
        "used_memory_delta_bytes": await used_memory(redis) - before,
    }


def dispatch_at(ticket_id: str, occurred_at: datetime) -> TicketDispatched:
    # The first of its chain (its own correlation id), stamped `occurred_at`.
    return TicketDispatched.first(
        producer="router",
        clock=ManualClock(occurred_at),
        ticket_id=ticket_id,
        event_id=f"bench-{ticket_id}",
        unit_id="grid-heyuan",
        unit_name="和园社区网格站",
        role=Role.LEAD,
        level=Level.COMMUNITY,
        whistle=Whistle.DAILY,
        category="fire_box",
        priority=Priority.NORMAL,
        description="A-160车位旁边的消防箱玻璃碎了",
        location=Location(grid_code="HY-01"),
        reason="benchmark",
        street="qingshi",
    )


async def count_stored(nc: Client, subject: str) -> int:
    info = await nc.jetstream().stream_info("TICKETS", subjects_filter=subject)
    return sum((info.state.subjects or {}).values())


async def sla_full_path(
    nats_url: str, redis_url: str, due: int, concurrency: int
) -> dict[str, float]:
    """Arm `due` tickets through sla's own code, let them all fall due in one second, and
    time each escalation from the deadline to its arrival in JetStream."""
    clock = SteerableClock()
    settings = SlaSettings(log_level="WARNING")
    async with connections(nats_url, redis_url) as (nc, redis):
        await provision(nc.jetstream(), (SLA,))
        supervisor = Supervisor(
            redis=redis, nats=nc, book=PolicyBook.load(), clock=clock, settings=settings
        )
        # All dispatched at the same moment: 48 h later they fall due in the same second.
        dispatched = clock.now().replace(microsecond=0)
        deadline = dispatched + timedelta(hours=48)
        gate = asyncio.Semaphore(concurrency)

        async def arm(n: int) -> None:
            async with gate:
                await supervisor.apply(dispatch_at(f"T{n:06d}", dispatched))

        before = await used_memory(redis)
        started = time.perf_counter()
        await asyncio.gather(*(arm(n) for n in range(due)))
        arm_seconds = time.perf_counter() - started
        state_bytes = (await used_memory(redis) - before) / due

        # Move to the warning point (75 %) and let the 10,000 warnings go first, so that
        # the deadline measurement below is about breaches alone.
        clock.offset = 36 * HOUR + 1
        timers = every(settings.sla_tick_seconds, supervisor.timer_round, name="sla-timers")

        # As the service runs it: what a publish under load did not confirm waits in the
        # outbox and the relay sends it (sla's bootstrap runs the same loop).
        async def relay_round() -> None:
            await supervisor.relay(settings.sla_publish_timeout_seconds + 1.0)

        relay = every(RELAY_SECONDS, relay_round, name="outbox-relay")
        await timers.start()
        await relay.start()
        for _ in range(600):
            if await count_stored(nc, "ticket.sla_warning.*") >= due:
                break
            await asyncio.sleep(0.2)

        arrivals: dict[str, float] = {}

        async def seen(msg: Msg) -> None:
            arrivals.setdefault(msg.subject.rsplit(".", 1)[1], clock.stamp())

        watcher = await nc.subscribe("ticket.escalated.*", cb=seen)
        clock.offset = (deadline - datetime.now(UTC)).total_seconds() - 1.0  # 1 s before
        for _ in range(2400):
            if len(arrivals) >= due:
                break
            await asyncio.sleep(0.05)
        await timers.stop()
        await relay.stop()
        await watcher.unsubscribe()
        lateness = [stamp - deadline.timestamp() for stamp in arrivals.values()]
        escalated = await count_stored(nc, "ticket.escalated.*")
    return {
        "tickets": due,
        "arm_seconds": arm_seconds,
        "arm_per_second": due / arm_seconds,
        "state_bytes_per_ticket": state_bytes,
        "escalated": escalated,
        "lateness_p50_s": percentile(lateness, 50),
        "lateness_p99_s": percentile(lateness, 99),
        "lateness_max_s": max(lateness),
        "all_escalated_within_s": max(lateness),
    }


# --- NATS message schedules


SCHEDULES = StreamConfig(
    name="SLA_SCHEDULES",
    subjects=["sla.schedule.>", "sla.due.>"],
    storage=StorageType.FILE,
    allow_msg_schedules=True,
)


def at(moment: datetime) -> dict[str, str]:
    return {"Nats-Schedule": f"@at {moment.strftime('%Y-%m-%dT%H:%M:%SZ')}"}


async def arm_schedules(nc: Client, count: int, moment: datetime, prefix: str) -> float:
    """Arms `count` schedules due at `moment`; returns the seconds it took."""
    js = nc.jetstream()
    payload = b'{"ticket_id":"T000000","clock":"resolution","level":"community"}'
    started = time.perf_counter()
    for n in range(count):
        await js.publish_async(
            f"sla.schedule.{prefix}{n:08d}",
            payload,
            headers=at(moment) | {"Nats-Schedule-Target": f"sla.due.{prefix}{n:08d}"},
        )
        if n % 5_000 == 4_999:
            await js.publish_async_completed()
    await js.publish_async_completed()
    return time.perf_counter() - started


async def nats_schedules(nats_server: NatsServer, count: int, due: int) -> dict[str, float]:
    process = psutil.Process(nats_server.pid)
    async with connections(nats_server.url, "redis://unused") as (nc, _):
        js = nc.jetstream()
        await js.add_stream(SCHEDULES)
        rss_before = process.memory_info().rss
        arm_seconds = await arm_schedules(nc, count, datetime.now(UTC) + timedelta(days=30), "F")
        info = await js.stream_info(SCHEDULES.name or "")
        rss_after = process.memory_info().rss

        deadline = (datetime.now(UTC) + timedelta(seconds=3)).replace(microsecond=0)
        await arm_schedules(nc, due, deadline, "T")
        consumer = await js.pull_subscribe("sla.due.>", durable="bench", stream=SCHEDULES.name)
        lateness: list[float] = []
        for _ in range(60):
            if len(lateness) >= due:
                break
            with contextlib.suppress(TimeoutError):
                for msg in await consumer.fetch(500, timeout=1):
                    lateness.append(time.time() - deadline.timestamp())
                    await msg.ack()
    return {
        "count": count,
        "arm_seconds": arm_seconds,
        "arm_per_second": count / arm_seconds,
        "store_bytes": info.state.bytes,
        "server_rss_delta_bytes": rss_after - rss_before,
        "delivered": len(lateness),
        "lateness_p50_s": percentile(lateness, 50),
        "lateness_p99_s": percentile(lateness, 99),
        "lateness_max_s": max(lateness),
    }


async def schedules_arming_when_synced(nats_server: NatsServer, count: int) -> float:
    """Arming throughput of schedules on the shipped durability (every write fsynced)."""
    async with connections(nats_server.url, "redis://unused") as (nc, _):
        await nc.jetstream().add_stream(SCHEDULES)
        seconds = await arm_schedules(nc, count, datetime.now(UTC) + timedelta(days=30), "S")
        await nc.jetstream().delete_stream(SCHEDULES.name or "")
    return count / seconds


# --- report


def versions(nats_server: NatsServer, redis_server: RedisServer) -> dict[str, str]:
    nats_version = subprocess.run(
        [nats_server.command()[0], "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    redis_version = subprocess.run(
        [redis_server.command()[0], "--version"], capture_output=True, text=True, check=False
    ).stdout.split(" ")[2]
    return {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB",
        "python": platform.python_version(),
        "nats_server": nats_version,
        "redis_server": redis_version,
    }


def megabytes(value: float) -> str:
    return f"{value / 2**20:.1f} MiB"


def table(results: dict[str, Any]) -> str:
    redis, full, schedules = results["sorted_set"], results["sla_path"], results["schedules"]
    rows = [
        ("timers held", f"{redis['count']:,}", f"{schedules['count']:,}"),
        (
            "store memory for them",
            f"{megabytes(redis['set_bytes'])} ({redis['set_bytes'] / redis['count']:.0f} B each)",
            f"{megabytes(schedules['store_bytes'])} on disk, server RSS "
            f"+{megabytes(schedules['server_rss_delta_bytes'])}",
        ),
        (
            "arming throughput (store alone)",
            f"{redis['arm_per_second']:,.0f}/s (pipelined ZADD, appendfsync everysec)",
            f"{schedules['arm_per_second']:,.0f}/s (async publish, acked, fsync every 2 min); "
            f"{results['schedules_synced_arm_per_second']:,.0f}/s with sync_interval always",
        ),
        (
            f"{full['tickets']:,} due in the same second: lateness p50 / p99 / max",
            f"{full['lateness_p50_s']:.2f} / {full['lateness_p99_s']:.2f} / "
            f"{full['lateness_max_s']:.2f} s (whole sla path, to TicketEscalated stored)",
            f"{schedules['lateness_p50_s']:.2f} / {schedules['lateness_p99_s']:.2f} / "
            f"{schedules['lateness_max_s']:.2f} s (bare delivery, before any processing)",
        ),
    ]
    lines = [
        "| measure | Redis sorted set + Lua claim | NATS message schedules |",
        "|---|---|---|",
        *(f"| {a} | {b} | {c} |" for a, b, c in rows),
        "",
        f"Full sla arming path (event → state + timer + SlaClockArmed acked): "
        f"{full['arm_per_second']:,.0f} tickets/s at concurrency {results['concurrency']}, "
        f"{full['state_bytes_per_ticket']:.0f} B of Redis per ticket's state and indexes.",
        "",
        "Machine: " + ", ".join(f"{k} {v}" for k, v in results["versions"].items()),
    ]
    return "\n".join(lines)


async def main(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {"concurrency": args.concurrency}
    with (
        tempfile.TemporaryDirectory(prefix="sla-bench-") as root,
        servers(Path(root), args.nats_sync) as (nats_server, redis_server),
    ):
        results["versions"] = versions(nats_server, redis_server)
        async with connections(nats_server.url, redis_server.url) as (_, redis):
            results["sorted_set"] = await arm_sorted_set(
                redis, args.timers, time.time() + 7 * 86_400
            )
        results["sla_path"] = await sla_full_path(
            nats_server.url, redis_server.url, args.due, args.concurrency
        )
        results["schedules_synced_arm_per_second"] = await schedules_arming_when_synced(
            nats_server, args.due
        )
    # A million fsynced schedules would take many minutes here: the million is measured
    # on NATS's default fsync interval, which flatters schedules, not the sorted set.
    with (
        tempfile.TemporaryDirectory(prefix="sla-bench-nats-") as root,
        NatsServer(free_port(), Path(root), sync_interval="2m") as relaxed,
    ):
        results["schedules"] = await nats_schedules(relaxed, args.timers, args.due)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timers", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument(
        "--nats-sync", default="always", help='nats-server sync_interval ("always" as shipped)'
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    arguments = parser.parse_args()
    configure_logging("sla-benchmark", "WARNING")
    figures = asyncio.run(main(arguments))
    if arguments.json:
        arguments.json.write_text(json.dumps(figures, indent=2, default=str), encoding="utf-8")
    print(table(figures))
