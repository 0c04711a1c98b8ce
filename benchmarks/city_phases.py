"""The ticket phases of benchmarks/city.py: intake, sla and supervision with a city's
open tickets, on real nats-server and redis-server from the wheels.

- intake: TICKETS filled with N tickets (benchmarks/city_stream.py); intake's rebuild
  (`python -m chuishao.intake.rebuild --write`, its own process) writes every record and
  index into an empty Redis — time and peak memory; then Redis memory per open ticket
  and intake's search with filters over the N, p50/p99.
- supervision: its projection rebuilt from the same stream (`chuishao.supervision.rebuild`),
  time and Redis memory per ticket; then the command-centre board of the whole city
  (every unit and street the tickets reached), the month's report and one street's board,
  gathered and rendered as the page does, p50/p99; the gauges' refresh.
- sla: N clocks armed through sla's own path (TicketDispatched applied: state, timer,
  indexes, SlaClockArmed published and acknowledged), Redis memory per ticket and arming
  rate; then 10,000 of them falling due in the same second among the N
  (benchmarks/sla_timers.py), lateness p50/p99.
"""

import asyncio
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

import psutil
from city_stream import Placement, publish_city
from cryptography.fernet import Fernet, MultiFernet
from nats.aio.client import Client
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis
from sla_timers import SteerableClock, connections, dispatch_at, sla_full_path, used_memory

from chuishao.common.status import Status
from chuishao.common.streams import SLA, provision
from chuishao.console.web.clerk import DONE_LIMIT, OPEN_LIMIT
from chuishao.embedded import NatsServer, RedisServer
from chuishao.intake import indexes
from chuishao.intake import store as intake_store
from chuishao.intake.search import Filters, search
from chuishao.sla.policies import PolicyBook
from chuishao.sla.settings import SlaSettings
from chuishao.sla.supervisor import Supervisor
from chuishao.supervision.board import Reader
from chuishao.supervision.gauges import Gauges
from chuishao.supervision.keys import ALL_PERIODS, SupervisionKeys
from chuishao.supervision.rebuild import rebuild
from chuishao.supervision.rendering import Renderer
from chuishao.supervision.service import hotspot_rule
from chuishao.supervision.settings import SupervisionSettings

ZONE = ZoneInfo("Asia/Shanghai")


def note(text: str) -> None:
    """Progress on stderr: a long run shows where it is."""
    print(f"{time.strftime('%H:%M:%S')} {text}", file=sys.stderr, flush=True)


def percentiles_ms(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1e3, 2),
        "p99_ms": round(ordered[max(0, round(0.99 * (len(ordered) - 1)))] * 1e3, 2),
        "max_ms": round(ordered[-1] * 1e3, 2),
        "samples": len(ordered),
    }


async def timed(samples: int, call: Callable[[], Awaitable[object]]) -> dict[str, float]:
    await call()  # warm: templates compiled, connections open
    spent = []
    for _ in range(samples):
        started = time.perf_counter()
        await call()
        spent.append(time.perf_counter() - started)
    return percentiles_ms(spent)


# --- intake


def _rss(process: psutil.Process) -> int:
    try:
        return int(process.memory_info().rss)
    except psutil.NoSuchProcess:  # a worker that ended between the listing and the reading
        return 0


def run_measured(command: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run a process to its end; its wall time and peak resident memory (polled, with
    the processes it starts: the rebuild's workers)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    watched = psutil.Process(process.pid)
    peak = 0
    while process.poll() is None:
        try:
            family = [watched, *watched.children(recursive=True)]
            peak = max(peak, sum(_rss(member) for member in family))
        except psutil.NoSuchProcess:
            break
        time.sleep(0.1)
    output = process.communicate()[0]
    if process.returncode != 0:
        raise RuntimeError(f"{command} failed ({process.returncode}):\n{output[-3000:]}")
    return {
        "seconds": round(time.perf_counter() - started, 1),
        "peak_rss_mb": round(peak / 1e6, 1),
        "output": output.strip().splitlines()[0] if output.strip() else "",
    }


async def memory_usages(redis: Redis, keys: list[Any]) -> list[int]:
    """MEMORY USAGE of each key, in one pipeline."""
    async with redis.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.memory_usage(key, samples=0)
        return [int(size or 0) for size in await pipe.execute()]


async def keys_bytes(redis: Redis, *patterns: str) -> int:
    """MEMORY USAGE of every key matching the patterns, summed: a pipeline a scanned
    batch (a round trip a key took eight minutes over supervision's keys at 200,000
    tickets)."""
    total = 0
    for pattern in patterns:
        cursor = 0
        while True:
            cursor, batch = await redis.scan(cursor, match=pattern, count=5000)
            total += sum(await memory_usages(redis, batch))
            if cursor == 0:
                break
    return total


async def record_bytes(redis: Redis, ticket_ids: list[str]) -> float:
    return statistics.mean(await memory_usages(redis, [f"ticket:{t}" for t in ticket_ids]))


def search_cases(pool: list[Placement], now: datetime) -> dict[str, Callable[[int], Filters]]:
    """Filter combinations a clerk, a command centre and an operator use; each call `i`
    picks other values."""
    units = sorted({p.unit_id for p in pool})
    streets = sorted({p.street for p in pool if p.street})
    categories = sorted({p.category for p in pool})
    day = timedelta(days=1)
    return {
        "newest, no filter": lambda i: Filters(),
        "status": lambda i: Filters(status=Status.DISPATCHED),
        "unit (a clerk's queue)": lambda i: Filters(unit=units[i * 7919 % len(units)]),
        "street": lambda i: Filters(street=streets[i * 31 % len(streets)]),
        "status + category + street": lambda i: Filters(
            status=Status.DISPATCHED,
            category=categories[i % len(categories)],
            street=streets[i * 31 % len(streets)],
        ),
        "category + one day": lambda i: Filters(
            category=categories[i % len(categories)],
            since=now - (i % 50 + 2) * day,
            until=now - (i % 50 + 1) * day,
        ),
        "overdue in a street": lambda i: Filters(
            street=streets[i * 31 % len(streets)], overdue_at=now
        ),
        "overdue, whole city": lambda i: Filters(overdue_at=now),
        "a street centre's scope + status": lambda i: Filters(
            status=Status.DISPATCHED,
            within=(
                indexes.unit_key(units[i % len(units)]),
                indexes.street_key(streets[i * 31 % len(streets)]),
            ),
        ),
    }


async def measure_search(
    redis: Redis, pool: list[Placement], samples: int, now: datetime
) -> dict[str, Any]:
    store = intake_store.RecordStore(redis)
    figures: dict[str, Any] = {}
    everything: list[float] = []
    for name, filters_of in search_cases(pool, now).items():
        spent, found = [], 0
        for i in range(samples):
            started = time.perf_counter()
            page = await search(redis, store, filters_of(i), limit=20)
            spent.append(time.perf_counter() - started)
            found += len(page.items)
        figures[name] = percentiles_ms(spent) | {"mean_items": round(found / samples, 1)}
        everything += spent
    figures["all"] = percentiles_ms(everything)
    return figures


async def intake_phase(
    nats_server: NatsServer,
    redis_server: RedisServer,
    nc: Client,
    redis: Redis,
    pool: list[Placement],
    tickets: int,
    search_samples: int,
    *,
    measure: bool = True,
) -> dict[str, Any]:
    """Fill the stream; with `measure`, rebuild intake's records from it and measure."""
    key = Fernet.generate_key()
    now = datetime.now(UTC)
    published = await publish_city(nc.jetstream(), MultiFernet([Fernet(key)]), pool, tickets, now)
    figures: dict[str, Any] = {
        "tickets": tickets,
        "events": published.events,
        "units_reached": len(published.unit_ids),
        "streets_reached": len(published.streets),
        "publish_s": round(published.seconds, 1),
        "publish_per_s": round((published.events + tickets) / published.seconds),
    }
    note(f"stream: {tickets:,} tickets, {published.events:,} events in {published.seconds:.0f} s")
    if not measure:
        return figures
    before = await used_memory(redis)
    env = os.environ | {
        "CHUISHAO_NATS_URL": nats_server.url,
        "CHUISHAO_REDIS_URL": redis_server.url,
        "CHUISHAO_CONTACT_STORE_KEY": key.decode(),
        "CHUISHAO_ALLOW_TEST_SECRETS": "true",
        "CHUISHAO_LOG_LEVEL": "WARNING",
    }
    workers = min(os.cpu_count() or 1, 4)  # the command's own default, said in the figures
    rebuilt = run_measured(
        [sys.executable, "-m", "chuishao.intake.rebuild", "--write", "--workers", str(workers)],
        env,
    )
    figures["rebuild"] = rebuilt | {
        "tickets_per_s": round(tickets / rebuilt["seconds"]),
        "workers": workers,
    }
    note(f"intake rebuild: {rebuilt}")
    after = await used_memory(redis)
    members = cast("list[bytes]", await redis.zrange(indexes.ALL, 0, 999))
    sample = [member.decode() for member in members]
    figures["redis"] = {
        "used_memory_delta_mb": round((after - before) / 1e6, 1),
        "bytes_per_ticket": round((after - before) / tickets),
        "record_bytes_mean": round(await record_bytes(redis, sample)),
        "index_bytes_per_ticket": round(await keys_bytes(redis, "idx:*", "geo:*") / tickets),
        "extrapolated_million_mb": round((after - before) / tickets * 1e6 / 1e6),
    }
    figures["search"] = await measure_search(redis, pool, search_samples, now)
    note(f"intake search: {figures['search']['all']}")
    figures["busiest_queue"] = await measure_busiest_queue(redis, pool[0].unit_id, search_samples)
    note(f"the busiest unit's queue: {figures['busiest_queue']}")
    return figures


async def measure_busiest_queue(redis: Redis, unit_id: str, samples: int) -> dict[str, Any]:
    """The searches the console's clerk queue (`console/web/clerk.py`, fetch_queue) makes
    for the unit with the most open tickets, run together as the console runs them:
    intake's side of the page (the rows it renders are capped at a page each)."""
    store = intake_store.RecordStore(redis)
    within = (indexes.unit_key(unit_id),)  # a clerk's scope: its own unit's tickets
    now = datetime.now(UTC)
    tabs = [
        (Filters(status=Status.DISPATCHED, within=within), OPEN_LIMIT),
        (Filters(status=Status.IN_PROGRESS, within=within), OPEN_LIMIT),
        (Filters(status=Status.AWAITING_RESIDENT, within=within), OPEN_LIMIT),
        (Filters(status=Status.RESOLVED, within=within), DONE_LIMIT),
        (Filters(status=Status.CLOSED, within=within), DONE_LIMIT),
        (Filters(overdue_at=now, within=within), OPEN_LIMIT),
    ]
    spent, rows = [], 0
    for _ in range(samples):
        started = time.perf_counter()
        pages = await asyncio.gather(*(search(redis, store, f, limit=n) for f, n in tabs))
        spent.append(time.perf_counter() - started)
        rows = sum(len(page.items) for page in pages)
    return percentiles_ms(spent) | {
        "open_tickets": int(await redis.zcard(indexes.unit_key(unit_id))),
        "rows_read": rows,
    }


# --- supervision


async def supervision_phase(
    nc: Client, redis: Redis, tickets: int, render_samples: int
) -> dict[str, Any]:
    settings = SupervisionSettings()
    keys = SupervisionKeys("city-bench")
    before = await used_memory(redis)
    started = time.perf_counter()
    replayed = await rebuild(nc.jetstream(), redis, keys.namespace, ZONE, hotspot_rule(settings))
    seconds = time.perf_counter() - started
    after = await used_memory(redis)
    note(f"supervision rebuild: {replayed.events:,} events in {seconds:.0f} s")
    figures: dict[str, Any] = {
        "tickets": tickets,
        "rebuild": {
            "events": replayed.events,
            "seconds": round(seconds, 1),
            "events_per_s": round(replayed.events / seconds),
        },
        "redis": {
            "used_memory_delta_mb": round((after - before) / 1e6, 1),
            "bytes_per_ticket": round((after - before) / tickets),
            # The keys themselves (used_memory also counts the clients' buffers, which a
            # rebuild's large pipelines leave behind for a while).
            "keys_bytes_per_ticket": round(await keys_bytes(redis, keys.pattern) / tickets),
        },
    }
    reader = Reader(redis, keys)
    renderer = Renderer(ZONE)
    now = datetime.now(UTC)
    month = (now - timedelta(days=15)).strftime("%Y-%m")
    street = sorted(await reader.values("street"))[0]
    figures["units_on_board"] = len(await reader.values("unit"))
    figures["streets_on_board"] = len(await reader.values("street"))

    async def board(period: str, streets: list[str] | None = None) -> str:
        return renderer.board(await reader.board(now, period, streets=streets))

    figures["board_all"] = await timed(render_samples, lambda: board(ALL_PERIODS))
    figures["board_month"] = await timed(max(3, render_samples // 4), lambda: board(month))
    figures["board_street"] = await timed(render_samples, lambda: board(ALL_PERIODS, [street]))
    gauges = Gauges(CollectorRegistry())
    figures["gauges_refresh"] = await timed(
        render_samples, lambda: gauges.refresh(reader, nc.jetstream())
    )
    return figures


# --- sla


async def sla_phase(
    nats_server: NatsServer, redis_server: RedisServer, tickets: int, due: int, concurrency: int
) -> dict[str, Any]:
    """`tickets - due` clocks armed to fall due after the burst, then `due` that fall due
    in the same second among them (sla_timers.sla_full_path)."""
    background = max(tickets - due, 0)
    clock = SteerableClock()
    async with connections(nats_server.url, redis_server.url) as (nc, redis):
        await provision(nc.jetstream(), (SLA,))
        supervisor = Supervisor(
            redis=redis,
            nats=nc,
            book=PolicyBook.load(),
            clock=clock,
            settings=SlaSettings(log_level="WARNING"),
        )
        # Dispatched a week ahead and over 30 days: none of their clocks falls due in the
        # two days the burst below moves the clock through.
        start = clock.now() + timedelta(days=7)
        gate = asyncio.Semaphore(concurrency)

        async def arm(n: int) -> None:
            async with gate:
                at = start + timedelta(seconds=n * 30 * 86_400 / max(background, 1))
                await supervisor.apply(dispatch_at(f"C{n:07d}", at))

        before = await used_memory(redis)
        started = time.perf_counter()
        for first in range(0, background, 10_000):
            await asyncio.gather(*(arm(n) for n in range(first, min(first + 10_000, background))))
        seconds = time.perf_counter() - started
        used = await used_memory(redis) - before
    note(f"sla: {background:,} armed in {seconds:.0f} s")
    figures: dict[str, Any] = {
        "tickets": tickets,
        "armed": background,
        "arm_s": round(seconds, 1),
        "arm_per_s": round(background / seconds) if seconds else 0,
        "bytes_per_ticket": round(used / max(background, 1)),
        "extrapolated_million_mb": round(used / max(background, 1)),
    }
    burst = await sla_full_path(nats_server.url, redis_server.url, due, concurrency)
    figures["burst"] = {name: round(value, 2) for name, value in burst.items()}
    return figures
