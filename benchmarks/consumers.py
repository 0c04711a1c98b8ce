"""Live consumers, a message at a time against a batch at a time (#18).

One stream of a city's tickets (benchmarks/city_stream: submitted, dispatched, the clock
armed), consumed by a fresh durable consumer with the service's filters, in this
process, alternately:
- `per_message`: FastStream's durable subscriber with the delivery policy, one event
  per handler call (the services before this change): supervision fetched one message
  at a time and applied it (`Projection.apply`); intake's records consumer fetched 64
  and applied each in its own transaction (`RecordStore.apply_foreign`);
- `batch`: `chuishao.common.batches.BatchConsumer`: supervision's
  `live_batch.apply_batch`, intake's `consumers.records_consumer`, notify's
  `FanOut.handle_batch` (per message: FanOut.handle, FastStream's fetch of 64).
For each: CPU seconds of this process and of redis-server until the consumer has caught
up (every message acknowledged), per event; the events per second; the batch sizes. The
two results are compared key by key at the end (they must be equal).

    .venv/bin/python benchmarks/consumers.py --service supervision --tickets 10000
    .venv/bin/python benchmarks/consumers.py --service intake --tickets 10000
    .venv/bin/python benchmarks/consumers.py --service notify --tickets 10000
    .venv/bin/python benchmarks/consumers.py --service router --tickets 10000
    .venv/bin/python benchmarks/consumers.py --service sla --tickets 10000
"""

import argparse
import asyncio
import functools
import json
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import nats
import psutil

# Run as a script, this folder is on the path.
from city_stream import placements, publish_city
from cryptography.fernet import Fernet, MultiFernet
from faststream.nats import NatsBroker
from nats.aio.client import Client
from redis.asyncio import Redis
from stack import servers

import chuishao.router
from chuishao.common import stream_reader, streams
from chuishao.common.batches import BatchConsumer
from chuishao.common.broker import durable_subscriber, make_broker
from chuishao.common.clients import packing_in_c
from chuishao.common.clock import ManualClock, SystemClock
from chuishao.common.events import AnyEvent, TicketSubmitted, parse_event
from chuishao.common.kv import KvView
from chuishao.common.logging import configure_logging
from chuishao.common.settings import ServiceSettings
from chuishao.common.unit_contacts import UnitContact
from chuishao.intake.consumers import place_linked, records_consumer
from chuishao.intake.projection import PLACING, apply, created
from chuishao.intake.store import RecordStore
from chuishao.notify.delivery_log import DeliveryLogStore
from chuishao.notify.fanout import FanOut
from chuishao.router.bootstrap import bootstrap as router_bootstrap
from chuishao.router.directory import Directory
from chuishao.router.settings import RouterSettings
from chuishao.sla.policies import PolicyBook
from chuishao.sla.settings import SlaSettings
from chuishao.sla.supervisor import Supervisor
from chuishao.supervision.keys import SupervisionKeys, text
from chuishao.supervision.live_batch import apply_batch
from chuishao.supervision.projection import Projection
from chuishao.supervision.rebuild import differences, snapshot
from chuishao.supervision.service import hotspot_rule
from chuishao.supervision.settings import SupervisionSettings

ZONE = ZoneInfo("Asia/Shanghai")
MODES = ("per_message", "batch")
# A mode's consumer: the batch consumer, or None where FastStream's subscriber was
# registered on the broker.
ModeConsumer = BatchConsumer[AnyEvent] | None
Subscribe = Callable[[NatsBroker, streams.ConsumerSpec, str], ModeConsumer]


@dataclass
class Target:
    """What a run consumes into (`subscribe` registers the mode's consumer on a broker)
    and how to read it back for the comparison."""

    subscribe: Subscribe
    read_back: Callable[[], Awaitable[dict[str, Any]]]
    redis: Redis


One = Callable[[AnyEvent], Awaitable[object]]
Many = Callable[[list[AnyEvent]], Awaitable[object]]


def consumer_for(
    broker: NatsBroker,
    spec: streams.ConsumerSpec,
    mode: str,
    one: One,
    many: Many,
    per_message_batch: int = 64,
) -> ModeConsumer:
    """The mode's consumer: FastStream's durable subscriber calling `one` for each event
    (registered on the broker; None returned), or the batch consumer calling `many`."""
    if mode == "per_message":

        @durable_subscriber(broker, spec, batch_size=per_message_batch)
        async def on_event(event: AnyEvent) -> None:
            await one(event)

        return None

    async def on_events(batch: list[AnyEvent]) -> None:
        await many(batch)

    return BatchConsumer[AnyEvent](broker, spec, AnyEvent, on_events)


async def mode_database(url: str, name: str) -> Redis:
    """An empty database of the mode's own, for a service whose keys have no namespace."""
    redis = packing_in_c(Redis.from_url(f"{url}/{1 + MODES.index(name.split(':')[1])}"))
    await redis.flushdb()
    return redis


# How a key of one Redis type is read back for the comparison.
Reader = Callable[[Redis, bytes], Awaitable[Any]]


async def read_by_type(redis: Redis, readers: dict[str, Reader]) -> dict[str, Any]:
    """Every key of the database, read by its type's reader; a type the service's keys
    are not compared by shows as its name alone."""
    found: dict[str, Any] = {}
    async for key in redis.scan_iter(count=1_000):
        kind = text(await redis.type(key))
        reader = readers.get(kind)
        found[text(key)] = kind if reader is None else await reader(redis, key)
    return found


async def read_strings(redis: Redis, pattern: str) -> dict[str, Any]:
    return {text(key): await redis.get(key) async for key in redis.scan_iter(pattern, count=1_000)}


async def supervision_target(url: str, name: str, _submitted: list[TicketSubmitted]) -> Target:
    redis = packing_in_c(Redis.from_url(url))
    keys = SupervisionKeys(name)
    projection = Projection(redis, keys, ZONE, hotspot_rule(SupervisionSettings()))

    def subscribe(broker: NatsBroker, spec: streams.ConsumerSpec, mode: str) -> ModeConsumer:
        return consumer_for(
            broker,
            spec,
            mode,
            projection.apply,
            lambda batch: apply_batch(projection, list(batch)),
            per_message_batch=1,
        )

    return Target(subscribe, lambda: snapshot(redis, keys), redis)


async def intake_target(url: str, name: str, submitted: list[TicketSubmitted]) -> Target:
    # Intake's keys have no namespace: each mode has a database of its own.
    redis = await mode_database(url, name)
    store = RecordStore(redis)
    for start in range(0, len(submitted), 1_000):
        await store.restore_many([created(event) for event in submitted[start : start + 1_000]])

    def subscribe(broker: NatsBroker, spec: streams.ConsumerSpec, mode: str) -> ModeConsumer:
        if mode == "per_message":

            @durable_subscriber(broker, spec)  # 64 a fetch, each in its own transaction
            async def on_event(event: AnyEvent) -> None:
                record = await store.apply_foreign(event, apply)
                if record is not None and isinstance(event, PLACING):
                    await place_linked(store, record)

            return None
        return records_consumer(broker, store, spec)

    readers: dict[str, Reader] = {
        "string": lambda redis, key: redis.get(key),
        "zset": lambda redis, key: redis.zrange(key, 0, -1, withscores=True),
    }
    return Target(subscribe, lambda: read_by_type(redis, readers), redis)


async def notify_target(url: str, name: str, _submitted: list[TicketSubmitted]) -> Target:
    # Notify's keys have no namespace either. Both modes publish the same messages with
    # the same ids: whichever runs second has them dropped by the duplicate window, so the
    # modes take turns going first; the comparison is of what each leaves in Redis.
    redis = await mode_database(url, name)

    def subscribe(broker: NatsBroker, spec: streams.ConsumerSpec, mode: str) -> ModeConsumer:
        @functools.cache
        def out() -> FanOut:  # once connected: the broker's connection is made at start
            return FanOut(
                js=broker.connection.jetstream(),
                redis=redis,
                units=cast(KvView[UnitContact], {}),  # no webhooks: only `get` is read
                history=DeliveryLogStore(redis),
                clock=ManualClock(datetime(2026, 1, 5, 2, tzinfo=UTC)),
            )

        return consumer_for(
            broker, spec, mode, lambda event: out().handle(event), lambda b: out().handle_batch(b)
        )

    async def members(redis: Redis, key: bytes) -> list[Any]:
        return sorted(await redis.zrange(key, 0, -1))  # handled marks: wall-time scores

    readers: dict[str, Reader] = {
        "hash": lambda redis, key: redis.hgetall(key),
        "list": lambda redis, key: redis.lrange(key, 0, -1),
        "zset": members,
    }
    return Target(subscribe, lambda: read_by_type(redis, readers), redis)


async def router_target(url: str, name: str, _submitted: list[TicketSubmitted]) -> Target:
    # The router's keys have no namespace either; what it publishes both modes publish
    # with the same ids (see notify_target).
    redis = await mode_database(url, name)

    def subscribe(broker: NatsBroker, spec: streams.ConsumerSpec, mode: str) -> ModeConsumer:
        router = router_bootstrap(RouterSettings(), clock=SystemClock(), redis=redis, broker=broker)
        return consumer_for(broker, spec, mode, router.handle, router.handle_batch)

    return Target(subscribe, lambda: read_strings(redis, "router:ticket:*"), redis)


async def sla_target(url: str, name: str, _submitted: list[TicketSubmitted]) -> Target:
    # sla's keys have no namespace either; its published events carry the same ids in
    # both modes (see notify_target).
    redis = await mode_database(url, name)
    settings = SlaSettings()

    def subscribe(broker: NatsBroker, spec: streams.ConsumerSpec, mode: str) -> ModeConsumer:
        @functools.cache
        def sla() -> Supervisor:  # once connected: the broker's connection is made at start
            return Supervisor(
                redis=redis,
                nats=broker.connection,
                book=PolicyBook.load(settings.sla_policies_file),
                clock=SystemClock(),
                settings=settings,
            )

        return consumer_for(
            broker, spec, mode, lambda event: sla().apply(event), lambda b: sla().apply_batch(b)
        )

    return Target(subscribe, lambda: read_strings(redis, "sla:ticket:*"), redis)


TARGETS = {
    "sla": sla_target,
    "supervision": supervision_target,
    "intake": intake_target,
    "notify": notify_target,
    "router": router_target,
}
SPECS = {
    "supervision": streams.SUPERVISION,
    "intake": streams.INTAKE_RECORDS,
    "notify": streams.NOTIFY,
    "router": streams.ROUTER,
    "sla": streams.SLA,
}


async def submitted_events(nc: Client) -> list[TicketSubmitted]:
    js = nc.jetstream()
    until = await stream_reader.last_sequence(js, "TICKETS")
    found: list[TicketSubmitted] = []
    async for _, data in stream_reader.read(js, "TICKETS", 0, until, ["ticket.submitted.*"]):
        if isinstance(event := parse_event(data), TicketSubmitted):
            found.append(event)
    return found


async def caught_up(nc: Client, name: str, timeout: float = 900.0) -> None:
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
    nc: Client, redis_pid: int, url: str, target: Target, spec: streams.ConsumerSpec, mode: str
) -> dict[str, Any]:
    streams.CONSUMERS[spec.name] = spec
    await streams.provision(nc.jetstream(), (spec,))
    broker = make_broker(ServiceSettings(nats_url=url), configure_logging("bench", "WARNING"))
    await broker.connect()
    consumer = target.subscribe(broker, spec, mode)
    events = (await nc.jetstream().consumer_info("TICKETS", spec.name)).num_pending
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
        "events": events,
        "events_per_s": round(events / seconds),
        "cpu_us_per_event": round(cpu / events * 1e6),
        "redis_cpu_us_per_event": round(redis_cpu / events * 1e6),
    }
    if consumer is not None:
        figures["mean_batch"] = round(events / max(consumer.batches, 1), 1)
        figures["largest_batch"] = consumer.largest
    return figures


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="consumers-bench-"))
    with servers(root, "always") as (nats_server, redis_server):
        nc = await nats.connect(nats_server.url)
        try:
            directory = Directory.load(
                Path(chuishao.router.__file__).parent / "data" / "directory.toml"
            )
            pool = placements(directory, 200, seed=7)
            keys = MultiFernet([Fernet(Fernet.generate_key())])
            published = await publish_city(
                nc.jetstream(), keys, pool, args.tickets, datetime.now(UTC)
            )
            submitted = await submitted_events(nc)
            assert redis_server.pid is not None
            runs: dict[str, list[dict[str, Any]]] = {mode: [] for mode in MODES}
            last: dict[str, Target] = {}
            for run in range(args.rounds):
                for mode in MODES if run % 2 == 0 else reversed(MODES):
                    name = f"bench:{mode}:{run}"
                    target = await TARGETS[args.service](redis_server.url, name, submitted)
                    spec = streams.ConsumerSpec(
                        f"bench-{mode.replace('_', '-')}-{run}",
                        "TICKETS",
                        SPECS[args.service].filter_subjects,
                    )
                    figures = await consume(
                        nc, redis_server.pid, nats_server.url, target, spec, mode
                    )
                    print(mode, run, figures, flush=True)
                    runs[mode].append(figures)
                    if mode in last:
                        await last[mode].redis.aclose()
                    last[mode] = target
            different = differences(
                await last["per_message"].read_back(), await last["batch"].read_back()
            )
            for target in last.values():
                await target.redis.aclose()
        finally:
            await nc.close()
    return {
        "service": args.service,
        "tickets": args.tickets,
        "events_in_stream": published.events,
        "runs": runs,
        "results_equal": not different,
        "differences": different[:5],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--service", choices=sorted(TARGETS), default="supervision")
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(measure(args)), indent=2))


if __name__ == "__main__":
    main()
