"""Supervision's live consumer, a message at a time against a batch at a time (#18).

One stream of a city's tickets (benchmarks/city_stream: submitted, dispatched, the clock
armed), consumed into a fresh projection by a fresh durable consumer with supervision's
filters, in this process, alternately:
- `per_message`: FastStream's durable subscriber with the delivery policy, one message
  per fetch, `Projection.apply` per event (supervision before this change);
- `batch`: `chuishao.common.batches.BatchConsumer`, `live_batch.apply_batch` per batch.
For each: CPU seconds of this process and of redis-server until the consumer has caught
up (every message acknowledged), per event; the events per second; the batch sizes. The
two projections are compared key by key at the end (they must be equal).

    .venv/bin/python benchmarks/consumers.py --tickets 10000 --rounds 3
"""

import argparse
import asyncio
import json
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psutil

# Run as a script, this folder is on the path.
from city_stream import placements, publish_city
from cryptography.fernet import Fernet, MultiFernet
from nats.aio.client import Client
from redis.asyncio import Redis
from sla_timers import connections, servers

import chuishao.router
from chuishao.common import streams
from chuishao.common.batches import BatchConsumer
from chuishao.common.broker import durable_subscriber, make_broker
from chuishao.common.events import AnyEvent
from chuishao.common.logging import configure_logging
from chuishao.common.settings import ServiceSettings
from chuishao.router.directory import Directory
from chuishao.supervision.keys import SupervisionKeys
from chuishao.supervision.live_batch import apply_batch
from chuishao.supervision.projection import Projection
from chuishao.supervision.rebuild import differences, snapshot
from chuishao.supervision.service import hotspot_rule
from chuishao.supervision.settings import SupervisionSettings

ZONE = ZoneInfo("Asia/Shanghai")
MODES = ("per_message", "batch")


async def caught_up(nc: Client, name: str, timeout: float = 600.0) -> None:
    js = nc.jetstream()
    deadline = time.monotonic() + timeout
    while True:
        info = await js.consumer_info("TICKETS", name)
        if info.num_pending == 0 and info.num_ack_pending == 0:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name} never caught up: {info}")
        await asyncio.sleep(0.05)


async def consume(
    nc: Client, redis: Redis, redis_pid: int, url: str, mode: str, run: int, events: int
) -> tuple[dict[str, Any], SupervisionKeys]:
    spec = streams.ConsumerSpec(
        f"bench-{mode}-{run}", "TICKETS", streams.SUPERVISION.filter_subjects
    )
    streams.CONSUMERS[spec.name] = spec
    await streams.provision(nc.jetstream(), (spec,))
    keys = SupervisionKeys(f"bench-{mode}-{run}")
    projection = Projection(redis, keys, ZONE, hotspot_rule(SupervisionSettings()))
    broker = make_broker(ServiceSettings(nats_url=url), configure_logging("bench", "WARNING"))
    await broker.connect()
    consumer: BatchConsumer[AnyEvent] | None = None
    if mode == "per_message":

        @durable_subscriber(broker, spec, batch_size=1)
        async def on_event(event: AnyEvent) -> None:
            await projection.apply(event)

    else:

        async def on_events(batch: list[AnyEvent]) -> None:
            await apply_batch(projection, list(batch))

        consumer = BatchConsumer[AnyEvent](broker, spec, AnyEvent, on_events)
    server = psutil.Process(redis_pid)
    cpu, redis_cpu, started = time.process_time(), sum(server.cpu_times()[:2]), time.perf_counter()
    await broker.start()
    if consumer is not None:
        await consumer.start()
    await caught_up(nc, spec.name)
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu
    redis_cpu = sum(server.cpu_times()[:2]) - redis_cpu
    if consumer is not None:
        await consumer.stop()
    await broker.stop()
    figures: dict[str, Any] = {
        "events_per_s": round(events / seconds),
        "cpu_us_per_event": round(cpu / events * 1e6),
        "redis_cpu_us_per_event": round(redis_cpu / events * 1e6),
    }
    if consumer is not None:
        figures["mean_batch"] = round(events / consumer.batches, 1)
        figures["largest_batch"] = consumer.largest
    return figures, keys


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="consumers-bench-"))
    with servers(root, "always") as (nats_server, redis_server):
        async with connections(nats_server.url, redis_server.url) as (nc, redis):
            directory = Directory.load(
                Path(chuishao.router.__file__).parent / "data" / "directory.toml"
            )
            pool = placements(directory, 200, seed=7)
            keys = MultiFernet([Fernet(Fernet.generate_key())])
            published = await publish_city(
                nc.jetstream(), keys, pool, args.tickets, datetime.now(UTC)
            )
            events = published.events
            assert redis_server.pid is not None
            runs: dict[str, list[dict[str, Any]]] = {mode: [] for mode in MODES}
            last: dict[str, SupervisionKeys] = {}
            for run in range(args.rounds):
                for mode in MODES if run % 2 == 0 else reversed(MODES):
                    figures, last[mode] = await consume(
                        nc, redis, redis_server.pid, nats_server.url, mode, run, events
                    )
                    print(mode, run, figures, flush=True)
                    runs[mode].append(figures)
            different = differences(
                await snapshot(redis, last["per_message"]), await snapshot(redis, last["batch"])
            )
    return {
        "tickets": args.tickets,
        "events": events,
        "runs": runs,
        "projections_equal": not different,
        "differences": different[:5],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(measure(args)), indent=2))


if __name__ == "__main__":
    main()
