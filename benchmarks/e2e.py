"""End-to-end throughput and latency against the bare-broker limit (`make bench`).

Every service runs as its own process on real nats-server (sync_interval always, the
shipped setting) and redis-server, as `make run` starts them. Measured in one run:
1. throughput, report submitted → dispatch seen on the unit's subject, over NATS
   (`cmd.submit`) and over HTTP (`POST /api/v1/reports`);
2. latency submit → unit notified, p50/p95/p99, at 200/s and near saturation;
3. the bare limit: the same JetStream hops with plain nats-py, no processing, same
   payload size, same machine, same run; and the ratio of (1) to (3);
4. resident set size of each service at rest and under load;
5. the SLA figures: arming throughput of the timer store and of sla's whole path, and
   the lateness of escalations when many clocks fall due in the same second;
6. scaling out: throughput with a second router replica on the same durable consumer.
Writes benchmarks/results/latest.json and prints a table.
"""

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import nats
import psutil
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import NotFoundError

# Run as a script, this folder is on the path: the SLA timer benchmark's pieces are reused.
from sla_timers import arm_sorted_set, connections, sla_full_path
from stack import pipeline, servers

from chuishao.common.logging import configure_logging
from chuishao.common.streams import CONSUMERS
from chuishao.embedded.services import ServiceProcesses

RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"
UNIT = "grid-heyuan"
REPORT = {
    "category": "fire_box",
    "description": "A-160车位旁边的消防箱玻璃碎了，请尽快处理。",
    "location": {"grid_code": "HY-01", "address": "和园小区 A-160 车位"},
    "channel": "snap_it",
}
WINDOW = 256  # requests in flight


@dataclass
class Run:
    sent: dict[str, float] = field(default_factory=dict)  # ticket id → when its submit left
    seen: dict[str, float] = field(default_factory=dict)  # ticket id → dispatch observed
    failed: int = 0
    errors: Counter[str] = field(default_factory=Counter)

    def fail(self, why: str) -> None:
        self.failed += 1
        self.errors[why] += 1

    def throughput(self) -> float:
        done = [t for t in self.sent if t in self.seen]
        if not done:
            return 0.0
        span = max(self.seen[t] for t in done) - min(self.sent[t] for t in done)
        return len(done) / span

    def latencies_ms(self) -> list[float]:
        return sorted((self.seen[t] - self.sent[t]) * 1000 for t in self.sent if t in self.seen)


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


async def observe(connection: Client, run: Run) -> Any:
    async def seen(msg: Msg) -> None:
        run.seen.setdefault(msg.subject.rsplit(".", 1)[1], time.perf_counter())

    return await connection.subscribe(f"dept.{UNIT}.dispatched.*", cb=seen)


async def settle(run: Run, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    # Polls: `run.seen` is filled by a subscription callback.
    while time.monotonic() < deadline and any(t not in run.seen for t in run.sent):  # noqa: ASYNC110
        await asyncio.sleep(0.05)


async def drained(url: str, timeout: float = 300.0) -> float:
    """When every durable consumer has caught up (`perf_counter`): the work that follows a
    dispatch — intake's record, sla's clocks, the receipt, supervision's projection —
    is done too. Each phase starts from an empty backlog."""
    connection = await nats.connect(url)
    js = connection.jetstream()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            backlog = 0
            for spec in CONSUMERS.values():
                try:
                    info = await js.consumer_info(spec.stream, spec.name)
                except NotFoundError:  # a service the benchmark does not run (points)
                    continue
                backlog += info.num_pending + info.num_ack_pending
            if backlog == 0:
                return time.perf_counter()
            await asyncio.sleep(0.2)
    finally:
        await connection.close()
    raise TimeoutError(f"the consumers did not catch up within {timeout} s")


async def paced(count: int, rate: float | None, send: Callable[[int], Awaitable[None]]) -> None:
    """`count` sends, at `rate` per second or as fast as the window allows."""
    window = asyncio.Semaphore(WINDOW)
    start = time.perf_counter()

    async def one(index: int) -> None:
        try:
            await send(index)
        finally:
            window.release()

    tasks = []
    for index in range(count):
        if rate is not None:
            delay = start + index / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        await window.acquire()
        tasks.append(asyncio.create_task(one(index)))
    await asyncio.gather(*tasks)


async def over_nats(url: str, count: int, rate: float | None, tag: str) -> Run:
    run = Run()
    connection = await nats.connect(url)
    sub = await observe(connection, run)
    payload = json.dumps(REPORT).encode()

    async def send(index: int) -> None:
        started = time.perf_counter()
        try:
            reply = await connection.request(
                "cmd.submit", payload, timeout=30, headers={"Idempotency-Key": f"{tag}-{index}"}
            )
            answer = json.loads(reply.data)
        except Exception as error:  # noqa: BLE001 - counted, reported
            run.fail(type(error).__name__)
            return
        if answer.get("ok"):
            run.sent[answer["ticket_id"]] = started
        else:
            run.fail(answer["error"]["code"])

    await paced(count, rate, send)
    await settle(run)
    await sub.unsubscribe()
    await connection.close()
    return run


async def over_http(base: str, url: str, count: int, rate: float | None) -> Run:
    run = Run()
    connection = await nats.connect(url)
    sub = await observe(connection, run)
    body = json.dumps(REPORT).encode()
    headers = {"content-type": "application/json"}
    connector = aiohttp.TCPConnector(limit=64)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(base, connector=connector, timeout=timeout) as client:

        async def send(index: int) -> None:
            started = time.perf_counter()
            try:
                async with client.post("/api/v1/reports", data=body, headers=headers) as response:
                    answer = await response.read()
            except (aiohttp.ClientError, TimeoutError) as error:
                run.fail(type(error).__name__)
                return
            if response.status == 201:
                run.sent[json.loads(answer)["ticket_id"]] = started
            else:
                run.fail(f"HTTP {response.status}")

        await paced(count, rate, send)
    await settle(run)
    await sub.unsubscribe()
    await connection.close()
    return run


# --- the bare limit: three JetStream publishes and two pull-consumer relays, no logic


def _relay(url: str, source: str, target: str) -> None:
    async def main() -> None:
        connection = await nats.connect(url)
        js = connection.jetstream()
        sub = await js.pull_subscribe(f"{source}.>", durable=f"relay-{source}", stream=source)
        while True:
            try:
                batch = await sub.fetch(64, timeout=1)
            except Exception:  # noqa: BLE001, S112 - an idle fetch times out
                continue
            for msg in batch:
                key = msg.subject.rsplit(".", 1)[1]
                await js.publish(f"{target}.{key}", msg.data, headers={"Nats-Msg-Id": key})
                await msg.ack()

    asyncio.run(main())


async def bare(url: str, count: int, payload_size: int) -> Run:
    connection = await nats.connect(url)
    js = connection.jetstream()
    for name in ("BA", "BB", "BC"):
        await js.add_stream(
            StreamConfig(
                name=name, subjects=[f"{name}.>"], storage=StorageType.FILE, duplicate_window=600
            )
        )
    relays = [
        multiprocessing.Process(target=_relay, args=(url, "BA", "BB"), daemon=True),
        multiprocessing.Process(target=_relay, args=(url, "BB", "BC"), daemon=True),
    ]
    for relay in relays:
        relay.start()
    await asyncio.sleep(1.5)
    run = Run()

    async def seen(msg: Msg) -> None:
        run.seen.setdefault(msg.subject.rsplit(".", 1)[1], time.perf_counter())

    sub = await connection.subscribe("BC.>", cb=seen)
    body = b"x" * payload_size

    async def send(index: int) -> None:
        key = f"m{index}"
        run.sent[key] = time.perf_counter()
        await js.publish(f"BA.{key}", body, headers={"Nats-Msg-Id": key})

    await paced(count, None, send)
    await settle(run)
    await sub.unsubscribe()
    for relay in relays:
        relay.terminate()
    await connection.close()
    return run


async def sla_figures(root: Path, sync_interval: str, quick: bool) -> dict[str, Any]:
    """On servers of its own: arming the timer store alone, then sla's whole path for
    tickets that all fall due in the same second (see benchmarks/sla_timers.py)."""
    timers, due = (50_000, 1_000) if quick else (200_000, 3_000)
    with servers(root, sync_interval) as (nats_server, redis_server):
        async with connections(nats_server.url, redis_server.url) as (_, redis):
            store = await arm_sorted_set(redis, timers, time.time() + 7 * 86_400)
        path = await sla_full_path(nats_server.url, redis_server.url, due, concurrency=64)
    return {
        "timers_armed": timers,
        "timer_store_arm_per_s": round(store["arm_per_second"]),
        "tickets_due_at_once": due,
        "full_path_arm_per_s": round(path["arm_per_second"]),
        "escalated": path["escalated"],
        "escalation_lateness_s": {
            "p50": round(path["lateness_p50_s"], 2),
            "p99": round(path["lateness_p99_s"], 2),
            "max": round(path["lateness_max_s"], 2),
        },
    }


class RssSampler:
    """Peak resident set size of each service while a phase runs."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.processes = {name: psutil.Process(pid) for name, pid in pids.items()}
        self.peak = dict.fromkeys(pids, 0.0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def now(self) -> dict[str, float]:
        return {n: p.memory_info().rss / 2**20 for n, p in self.processes.items()}

    def _sample(self) -> None:
        while not self._stop.is_set():
            for name, mb in self.now().items():
                self.peak[name] = max(self.peak[name], mb)
            time.sleep(0.2)

    def __enter__(self) -> "RssSampler":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def table(rows: list[tuple[str, str, str]]) -> str:
    width = max(len(r[0]) for r in rows)
    return "\n".join(f"  {a:<{width}}  {b:>14}  {c}" for a, b, c in rows)


def cpu_seconds(processes: dict[str, psutil.Process]) -> dict[str, float]:
    times = {name: process.cpu_times() for name, process in processes.items()}
    return {name: t.user + t.system for name, t in times.items()}


async def measure(
    services: ServiceProcesses, nats_url: str, servers: dict[str, int], quick: bool
) -> dict[str, Any]:
    n = 1500 if quick else 6000
    pids = {name: services.pid(name) for name in services.processes}
    await over_nats(nats_url, 200, None, "warm")  # imports, JIT-free warm caches, consumers
    await asyncio.sleep(2)
    sampler = RssSampler(pids)
    at_rest = sampler.now()
    with sampler:
        # Where the CPU goes: each process's CPU time over the NATS phase, per ticket.
        accounted = {name: psutil.Process(pid) for name, pid in (pids | servers).items()}
        accounted["benchmark driver"] = psutil.Process()
        cpu_before = cpu_seconds(accounted)
        via_nats = await over_nats(nats_url, n, None, "nats")
        dispatched_at = time.perf_counter()
        all_done_at = await drained(nats_url)
        cpu_after = cpu_seconds(accounted)
        via_http = await over_http(services.base_url, nats_url, n // 2, None)
        await drained(nats_url)
        steady = await over_nats(nats_url, 400 if quick else 2000, 200.0, "steady")
        await drained(nats_url)
        # Near saturation: 80 % of the throughput just measured.
        busy_rate = via_nats.throughput() * 0.8
        busy = await over_nats(nats_url, int(busy_rate * (2 if quick else 5)), busy_rate, "busy")
        await drained(nats_url)
    all_work_s = all_done_at - min(via_nats.sent.values())
    # Scaling out: a second router process on the same durable consumer.
    services.add_replica("router")
    await asyncio.sleep(3)  # connected and pulling
    two_routers = await over_nats(nats_url, n // 2, None, "replicas")
    payload = len(json.dumps(REPORT | {"event_id": "x" * 36, "ticket_id": "T" * 15}).encode()) + 400
    limit = await bare(nats_url, n, payload)
    steady_ms, busy_ms = steady.latencies_ms(), busy.latencies_ms()
    all_work_rate = len(via_nats.sent) / all_work_s
    cpu_ms = {
        name: (cpu_after[name] - cpu_before[name]) * 1000 / max(len(via_nats.sent), 1)
        for name in accounted
    }
    return {
        "tickets_per_s_nats": round(via_nats.throughput(), 1),
        "tickets_per_s_http": round(via_http.throughput(), 1),
        # Every consumer caught up, not only the dispatch: the sustainable rate.
        "tickets_per_s_nats_all_work_done": round(all_work_rate, 1),
        # The sustained rate (every consumer caught up) against the bare relay of this run.
        "ratio_all_work_done_to_bare": round(all_work_rate / limit.throughput(), 3),
        "backlog_after_dispatch_s": round(all_done_at - dispatched_at, 1),
        "latency_ms_p50": round(percentile(steady_ms, 50), 2),
        "latency_ms_p95": round(percentile(steady_ms, 95), 2),
        "latency_ms_p99": round(percentile(steady_ms, 99), 2),
        "latency_near_saturation": {
            "rate_per_s": round(busy_rate, 1),
            "p50": round(percentile(busy_ms, 50), 2),
            "p95": round(percentile(busy_ms, 95), 2),
            "p99": round(percentile(busy_ms, 99), 2),
        },
        "bare_tickets_per_s": round(limit.throughput(), 1),
        "ratio_to_bare": round(via_nats.throughput() / limit.throughput(), 3),
        "rss_mb": {
            name: {"at_rest": round(at_rest[name], 1), "under_load": round(sampler.peak[name], 1)}
            for name in pids
        },
        "two_routers_tickets_per_s_nats": round(two_routers.throughput(), 1),
        "cpu_ms_per_ticket": {name: round(ms, 2) for name, ms in cpu_ms.items()},
        # Every service and both servers until every consumer caught up; the driver apart.
        "cpu_ms_per_ticket_total": round(
            sum(ms for name, ms in cpu_ms.items() if name != "benchmark driver"), 2
        ),
        "counts": {
            "nats": len(via_nats.sent),
            "http": len(via_http.sent),
            "steady": len(steady.sent),
            "busy": len(busy.sent),
            "bare": len(limit.sent),
            "two_routers": len(two_routers.sent),
            "failed": sum(r.failed for r in (via_nats, via_http, steady, busy, two_routers)),
            "failures": dict(
                sum((r.errors for r in (via_nats, via_http, steady, busy, two_routers)), Counter())
            ),
            "never_dispatched": sum(
                len([t for t in r.sent if t not in r.seen])
                for r in (via_nats, via_http, steady, busy, two_routers)
            ),
        },
    }


def report(results: dict[str, Any]) -> str:
    rows = [
        ("throughput over NATS", f"{results['tickets_per_s_nats']:.0f} /s", "target ≥ 2000"),
        ("throughput over HTTP", f"{results['tickets_per_s_http']:.0f} /s", "target ≥ 1000"),
        (
            "  … all work done",
            f"{results['tickets_per_s_nats_all_work_done']:.0f} /s",
            f"NATS; backlog done {results['backlog_after_dispatch_s']:.0f} s after the dispatches",
        ),
        ("bare JetStream limit", f"{results['bare_tickets_per_s']:.0f} /s", "same hops, no logic"),
        ("ratio to bare", f"{results['ratio_to_bare']:.2f}", "target ≥ 0.5"),
        (
            "  … all work done",
            f"{results['ratio_all_work_done_to_bare']:.2f}",
            "sustained rate ÷ bare; target ≥ 0.7",
        ),
        (
            "CPU per ticket, all",
            f"{results['cpu_ms_per_ticket_total']:.1f} ms",
            "services + servers, until caught up; target ≤ 3 ms",
        ),
        ("latency p50 @200/s", f"{results['latency_ms_p50']:.1f} ms", ""),
        ("latency p95 @200/s", f"{results['latency_ms_p95']:.1f} ms", ""),
        ("latency p99 @200/s", f"{results['latency_ms_p99']:.1f} ms", "target ≤ 50 ms"),
    ]
    busy = results["latency_near_saturation"]
    rows.append(
        (f"latency p99 @{busy['rate_per_s']:.0f}/s", f"{busy['p99']:.1f} ms", "near saturation")
    )
    for name, rss in results["rss_mb"].items():
        rows.append(
            (
                f"RSS {name}",
                f"{rss['under_load']:.0f} MB",
                f"at rest {rss['at_rest']:.0f} MB; target ≤ 150",
            )
        )
    rows.append(
        (
            "two router replicas",
            f"{results['two_routers_tickets_per_s_nats']:.0f} /s",
            f"one: {results['tickets_per_s_nats']:.0f} /s",
        )
    )
    cpu = results["cpu_ms_per_ticket"]
    rows.append(("CPU per ticket, all", f"{sum(cpu.values()):.1f} ms", "over the NATS phase"))
    rows += [(f"  {name}", f"{ms:.2f} ms", "") for name, ms in cpu.items()]
    sla = results["sla"]
    late = sla["escalation_lateness_s"]
    rows += [
        ("SLA timer store arming", f"{sla['timer_store_arm_per_s']} /s", "sorted set, pipelined"),
        ("SLA full arming path", f"{sla['full_path_arm_per_s']} /s", "event → clocks armed"),
        (
            f"SLA {sla['tickets_due_at_once']} due at once",
            f"p99 {late['p99']:.1f} s",
            f"late p50 {late['p50']:.1f} s, max {late['max']:.1f} s; {sla['escalated']} escalated",
        ),
    ]
    counts = results["counts"]
    why = ", ".join(f"{n} {kind}" for kind, n in counts["failures"].items())
    rows.append(
        ("failed / never dispatched", f"{counts['failed']} / {counts['never_dispatched']}", why)
    )
    return table(rows)


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="make bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer tickets (a smoke run)")
    parser.add_argument(
        "--sync-interval",
        default="always",
        help="nats-server fsync: always (shipped) or e.g. 2m (NATS default)",
    )
    parser.add_argument("--logs", type=Path, help="keep the services' logs in this folder")
    args = parser.parse_args()
    configure_logging("benchmark", "WARNING")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="chuishao-bench-") as tmp:
        data = Path(tmp)
        with pipeline(
            data,
            args.logs,
            args.sync_interval,
            # Throughput, not shedding, is measured here (benchmarks/overload.py is the
            # shedding): a fixed bound, no response budget.
            CHUISHAO_MAX_IN_FLIGHT="4096",
            CHUISHAO_RESPONSE_BUDGET_MS="0",
        ) as (nats_server, redis_server, services):
            servers = {
                name: server.pid
                for name, server in (("nats-server", nats_server), ("redis-server", redis_server))
                if server.pid is not None
            }
            results = asyncio.run(measure(services, nats_server.url, servers, args.quick))
        results["sla"] = asyncio.run(sla_figures(data / "sla", args.sync_interval, args.quick))
    results["machine"] = {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": platform.processor() or platform.machine(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
    }
    results["seconds"] = round(time.monotonic() - started, 1)
    results["nats_sync_interval"] = args.sync_interval
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(report(results))
    print(f"\nwrote {RESULTS} in {results['seconds']} s")


if __name__ == "__main__":
    main()
