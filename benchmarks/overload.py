"""Load shedding under many connections (`python benchmarks/overload.py`).

The whole stack as `make run` starts it (nats-server with fsync always, redis-server, the
five services) on loopback; N connections (200 by default) each send reports back to back
for a bounded time. A shed client waits the Retry-After it was given, as a well-behaved
client does (`--ignore-retry-after` to hammer instead). Prints, for the answers after a
short warm-up: accepted requests' p50/p99/max latency, the share shed (503) and the
accepted rate. `--max-in-flight` / `--response-budget-ms` set intake's shedding, e.g.
`--max-in-flight 512 --response-budget-ms 0` for the old behaviour.
"""

import argparse
import asyncio
import json
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

# Run as a script, this folder is on the path.
from stack import pipeline

from chuishao.common.logging import configure_logging

REPORT = {
    "category": "fire_box",
    "description": "A-160车位旁边的消防箱玻璃碎了，请尽快处理。",
    "location": {"grid_code": "HY-01", "address": "和园小区 A-160 车位"},
    "channel": "snap_it",
}


@dataclass
class Tally:
    accepted_ms: list[float] = field(default_factory=list)
    shed_ms: list[float] = field(default_factory=list)
    other: Counter[str] = field(default_factory=Counter)


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def connection(
    client: aiohttp.ClientSession, until: float, counting_from: float, tally: Tally, obey: bool
) -> None:
    body = json.dumps(REPORT).encode()
    headers = {"content-type": "application/json"}
    while (started := time.monotonic()) < until:
        retry_after = 0.0
        try:
            async with client.post("/api/v1/reports", data=body, headers=headers) as response:
                await response.read()
                status = response.status
                retry_after = float(response.headers.get("retry-after", "1"))
        except (aiohttp.ClientError, TimeoutError) as error:
            status, kind = 0, type(error).__name__
        else:
            kind = f"HTTP {status}"
        elapsed_ms = (time.monotonic() - started) * 1000
        if started >= counting_from:
            if status == 201:
                tally.accepted_ms.append(elapsed_ms)
            elif status == 503:
                tally.shed_ms.append(elapsed_ms)
            else:
                tally.other[kind] += 1
        if status == 503 and obey:
            await asyncio.sleep(retry_after)
        elif status != 201:
            await asyncio.sleep(0.1)  # an error: do not spin


async def load(base_url: str, connections: int, seconds: float, obey: bool) -> Tally:
    tally = Tally()
    warm_up = min(3.0, seconds / 5)
    now = time.monotonic()
    connector = aiohttp.TCPConnector(limit=connections)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(base_url, connector=connector, timeout=timeout) as client:
        await asyncio.gather(
            *(
                connection(client, now + warm_up + seconds, now + warm_up, tally, obey)
                for _ in range(connections)
            )
        )
    return tally


def report(tally: Tally, seconds: float, settings: dict[str, str]) -> str:
    answered = len(tally.accepted_ms) + len(tally.shed_ms) + sum(tally.other.values())
    shed_share = len(tally.shed_ms) / answered if answered else float("nan")
    lines = [
        f"intake: {settings}",
        f"answers counted: {answered} in {seconds:.0f} s",
        f"accepted (201): {len(tally.accepted_ms)}, {len(tally.accepted_ms) / seconds:.0f}/s; "
        f"p50 {percentile(tally.accepted_ms, 50):.0f} ms, "
        f"p99 {percentile(tally.accepted_ms, 99):.0f} ms, "
        f"max {max(tally.accepted_ms, default=float('nan')):.0f} ms",
        f"shed (503): {len(tally.shed_ms)} = {shed_share:.0%} of answers; "
        f"p99 time to the 503 {percentile(tally.shed_ms, 99):.0f} ms",
        f"other: {dict(tally.other) or 'none'}",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="benchmarks/overload.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20.0, help="measured, after warm-up")
    parser.add_argument("--max-in-flight", help="CHUISHAO_MAX_IN_FLIGHT (default: intake's)")
    parser.add_argument(
        "--response-budget-ms", help="CHUISHAO_RESPONSE_BUDGET_MS (default: intake's)"
    )
    parser.add_argument("--ignore-retry-after", action="store_true")
    parser.add_argument("--logs", type=Path, help="keep the services' logs in this folder")
    args = parser.parse_args()
    configure_logging("benchmark", "WARNING")
    settings = {
        name: value
        for name, value in (
            ("CHUISHAO_MAX_IN_FLIGHT", args.max_in_flight),
            ("CHUISHAO_RESPONSE_BUDGET_MS", args.response_budget_ms),
        )
        if value is not None
    }
    with tempfile.TemporaryDirectory(prefix="chuishao-overload-") as tmp:
        data = Path(tmp)
        with pipeline(data, args.logs, **settings) as (_, _, services):
            tally = asyncio.run(
                load(
                    services.base_url,
                    args.connections,
                    args.seconds,
                    obey=not args.ignore_retry_after,
                )
            )
    print(report(tally, args.seconds, settings or {"defaults": "yes"}))


if __name__ == "__main__":
    main()
