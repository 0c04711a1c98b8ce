"""A whole city: what the router costs with a directory the size of Beijing's.

Generates the city (`chuishao.devstack.city`, 16 districts, 340 streets and townships,
7,000 communities and villages, 30,000 grids, 5,000 units by default), then measures in a
fresh process each:
- directory validation and load time, a reload beside the loaded one, the router's RSS;
- locating a point (the grid it lies in, through the spatial index), p50/p99;
- a whole routing decision (locate + every category plugin asked), p50/p99, over every
  category of the catalogue at random points of the city.

With `--phases` (router by default; `all`), the ticket phases on real nats-server and
redis-server (benchmarks/city_phases.py): intake (N tickets' events in TICKETS, its
rebuild into an empty Redis, memory per ticket, search with filters), supervision (its
projection rebuilt from the same stream, the board of every unit and street, the month's
report) and sla (N armed clocks, 10,000 falling due at once). N is `--tickets` (env
TICKETS, default 200,000).

Run: `make bench-city` (or `.venv/bin/python benchmarks/city.py --phases all --json FILE`).
The figures go to benchmarks/results/city.json, each run updating the phases it measured.
The console's queue page (#15) is not measured here.
"""

import argparse
import asyncio
import gc
import json
import os
import platform
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
from city_phases import intake_phase, sla_phase, supervision_phase
from city_stream import placements
from sla_timers import connections
from stack import servers

from chuishao.common.domain import Location, Priority
from chuishao.common.logging import configure_logging
from chuishao.devstack.city import CitySize, generate, write
from chuishao.router.decision import RoutingRequest
from chuishao.router.directory import Directory
from chuishao.router.plugins_manager import Dispatcher, plugin_manager

SAMPLES = 20_000
PHASES = ("router", "intake", "supervision", "sla")


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_us": round(statistics.median(ordered) * 1e6, 1),
        "p99_us": round(ordered[int(len(ordered) * 0.99) - 1] * 1e6, 1),
    }


def rss_mb() -> float:
    return round(psutil.Process().memory_info().rss / 1e6, 1)


def measure(size: CitySize, path: Path) -> dict[str, Any]:
    figures: dict[str, Any] = {"size": size.__dict__}
    started = time.perf_counter()
    document = generate(size)
    write(document, path)
    figures["generate_s"] = round(time.perf_counter() - started, 2)
    figures["file_mb"] = round(path.stat().st_size / 1e6, 1)
    del document
    gc.collect()
    before = rss_mb()
    started = time.perf_counter()
    directory = Directory.load(path)
    figures["load_s"] = round(time.perf_counter() - started, 2)
    figures["rss_mb_loaded"] = rss_mb()
    figures["rss_mb_directory"] = round(figures["rss_mb_loaded"] - before, 1)
    started = time.perf_counter()
    reloaded = Directory.load(path)
    figures["reload_s"] = round(time.perf_counter() - started, 2)
    figures["rss_mb_during_reload"] = rss_mb()
    del reloaded
    gc.collect()

    rng = random.Random(size.seed)  # noqa: S311 — sample points, not secrets
    bounds = [g.polygon for g in directory.document.grids if g.polygon]
    longs = [x for ring in bounds for x, _ in ring]
    lats = [y for ring in bounds for _, y in ring]
    # The city's box once (taken again for each point, it was 165 s of the phase's 175).
    west, east, south, north = min(longs), max(longs), min(lats), max(lats)
    points = [(rng.uniform(west, east), rng.uniform(south, north)) for _ in range(SAMPLES)]
    samples: list[float] = []
    found = 0
    for long, lat in points:
        started = time.perf_counter()
        place = directory.locate(Location(long=long, lat=lat))
        samples.append(time.perf_counter() - started)
        found += place is not None
    figures["locate"] = percentiles(samples) | {"found_share": round(found / len(points), 4)}

    dispatcher = Dispatcher(plugin_manager(), directory)
    categories = [category.code for category in dispatcher.categories()]
    samples, placed = [], 0
    for i, (long, lat) in enumerate(points[: SAMPLES // 4]):
        location = Location(long=long, lat=lat)
        started = time.perf_counter()
        request = RoutingRequest(
            ticket_id=f"T{i}",
            category=categories[i % len(categories)],
            description="",
            priority=Priority.NORMAL,
            location=location,
            place=directory.locate(location),
        )
        decision = dispatcher.decide(request)
        samples.append(time.perf_counter() - started)
        placed += decision is not None
    figures["route"] = percentiles(samples) | {
        "categories": len(categories),
        "placed_share": round(placed / len(samples), 4),
    }
    figures["rss_mb_end"] = rss_mb()
    return figures


async def ticket_phases(args: argparse.Namespace, city: Path, phases: set[str]) -> dict[str, Any]:
    """intake, supervision (on one stream of N tickets) and sla (on servers of its own)."""
    figures: dict[str, Any] = {}
    root = Path(tempfile.mkdtemp(prefix="city-bench-"))
    try:
        if phases & {"intake", "supervision"}:
            directory = Directory.load(city)
            started = time.perf_counter()
            pool = placements(directory, args.placements, args.seed)
            figures["placements"] = {
                "routed": len(pool),
                "seconds": round(time.perf_counter() - started, 1),
            }
            del directory
            with servers(root / "tickets", args.nats_sync) as (nats_server, redis_server):
                async with connections(nats_server.url, redis_server.url) as (nc, redis):
                    # The rebuild of supervision reads the stream intake's phase fills.
                    stream = await intake_phase(
                        nats_server,
                        redis_server,
                        nc,
                        redis,
                        pool,
                        args.tickets,
                        args.search_samples,
                        measure="intake" in phases,
                    )
                    figures["intake" if "intake" in phases else "stream"] = stream
                    if "supervision" in phases:
                        figures["supervision"] = await supervision_phase(
                            nc, redis, args.tickets, args.render_samples
                        )
        if "sla" in phases:
            with servers(root / "sla", args.nats_sync) as (nats_server, redis_server):
                figures["sla"] = await sla_phase(
                    nats_server, redis_server, args.tickets, args.due, args.concurrency
                )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    defaults = CitySize()
    for field in ("districts", "streets", "communities", "grids", "units", "seed"):
        parser.add_argument(f"--{field}", type=int, default=getattr(defaults, field))
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/city.json"))
    parser.add_argument("--city", type=Path, default=Path(".data/city/directory.json"))
    parser.add_argument(
        "--phases",
        default="router",
        help=f"comma-separated, of {', '.join(PHASES)}, or all (default: router)",
    )
    parser.add_argument(
        "--tickets",
        type=int,
        default=int(os.environ.get("TICKETS", "200000")),
        help="open tickets for intake, sla, supervision (env TICKETS; default 200,000)",
    )
    parser.add_argument("--placements", type=int, default=20_000, help="routing decisions reused")
    parser.add_argument("--search-samples", type=int, default=50, help="searches per filter set")
    parser.add_argument("--render-samples", type=int, default=20, help="board renders measured")
    parser.add_argument("--due", type=int, default=10_000, help="sla clocks due in one second")
    parser.add_argument("--concurrency", type=int, default=64, help="sla events in flight")
    parser.add_argument(
        "--nats-sync",
        default="2m",
        help='nats-server sync_interval (default 2m: filling the stream; "always" as shipped)',
    )
    args = parser.parse_args()
    phases = set(PHASES) if args.phases == "all" else set(args.phases.split(","))
    if unknown := phases - set(PHASES):
        parser.error(f"unknown phases: {', '.join(sorted(unknown))}")
    size = CitySize(
        **{
            f: getattr(args, f)
            for f in ("districts", "streets", "communities", "grids", "units", "seed")
        }
    )
    configure_logging("city-benchmark", "WARNING")
    # Each run updates the phases it measured; the others keep their last figures.
    figures: dict[str, Any] = json.loads(args.json.read_text()) if args.json.exists() else {}
    if "router" in phases or not args.city.exists():
        router = measure(size, args.city)
        if "router" in phases:
            figures.update(router)
    if phases - {"router"}:
        started = time.perf_counter()
        measured = asyncio.run(ticket_phases(args, args.city, phases))
        measured["seconds"] = round(time.perf_counter() - started, 1)
        measured["load_average_1m_end"] = round(os.getloadavg()[0], 2)
        figures.setdefault("tickets", {}).update(measured)
    figures["machine"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(figures, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
