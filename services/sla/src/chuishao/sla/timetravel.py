"""Move the whole stack's clock (CHUISHAO_CLOCK=shared) forward, show it, or reset it.

python -m chuishao.sla.timetravel +48h     # 48 hours pass for every service
python -m chuishao.sla.timetravel show
python -m chuishao.sla.timetravel reset    # back to real time
"""

import argparse
import asyncio
import sys
from datetime import UTC, datetime, timedelta

from chuishao.common.clients import redis_client
from chuishao.common.clock import OFFSET_KEY, advance_shared_clock, reset_shared_clock
from chuishao.common.settings import ServiceSettings
from chuishao.sla.durations import parse_seconds


async def travel(command: str, settings: ServiceSettings) -> str:
    redis = redis_client(settings)
    try:
        if command == "reset":
            await reset_shared_clock(redis)
            offset = 0.0
        elif command == "show":
            raw = await redis.get(OFFSET_KEY)
            offset = float(raw) if raw is not None else 0.0
        else:
            offset = await advance_shared_clock(redis, parse_seconds(command))
    finally:
        await redis.aclose()
    now = datetime.now(UTC) + timedelta(seconds=offset)
    return (
        f"offset {timedelta(seconds=round(offset))}  stack time {now.isoformat(timespec='seconds')}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m chuishao.sla.timetravel", description=__doc__.splitlines()[0]
    )
    parser.add_argument("command", help='"+48h", "+30m", "-1h", "show" or "reset"')
    args = parser.parse_args(argv)
    try:
        print(asyncio.run(travel(args.command, ServiceSettings())))
    except ValueError as error:
        parser.error(str(error))
    return 0


if __name__ == "__main__":
    sys.exit(main())
