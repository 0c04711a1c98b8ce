"""Learning from dispatchers: each manual dispatch and each recategorisation is a labelled
example (text, chosen category, who, when) that `make triage-model EXTRA=file` can add.

They go to one capped Redis list the router owns (`router:triage-examples`, newest
MAX_EXAMPLES kept) beside its routing state. Export them in the corpus format:

    python -m chuishao.router.examples --out examples.tsv [--redis-url URL]
    make triage-model EXTRA=examples.tsv

Phone-number-like digit runs are masked on export: a corpus file is read by people.
"""

import argparse
import asyncio
import re
import sys
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from chuishao.common.events import TicketRecategorised
from chuishao.router import danger
from chuishao.router.state import TicketRouting
from chuishao.router.triage_corpus import Row

KEY = "router:triage-examples"
MAX_EXAMPLES = 50_000
_PHONE = re.compile(r"(?<!\d)1\d{10}(?!\d)|(?<!\d)\d{3,4}-?\d{7,8}(?!\d)")


class LabelledExample(BaseModel):
    model_config = ConfigDict(frozen=True)

    ticket_id: str
    text: str
    category: str
    who: str  # the command centre that dispatched, or who recategorised
    when: datetime
    how: Literal["manual_dispatch", "recategorised"]

    def row(self) -> Row:
        """In the corpus format; danger and call as the detector reads the text (the
        dispatcher chose only the category)."""
        text = _PHONE.sub("***", " ".join(self.text.split()))[:300]
        found = danger.assess(text)
        return Row(self.category, found.danger, found.call, text)


def manual_dispatch(
    previous: TicketRouting | None, state: TicketRouting | None, centre_id: str, when: datetime
) -> LabelledExample | None:
    """The example a hand assignment teaches, if it dispatched a ticket that waited."""
    if previous is None or previous.manual is None or state is None or state.category is None:
        return None
    return LabelledExample(
        ticket_id=state.ticket_id,
        text=state.description,
        category=state.category,
        who=centre_id,
        when=when,
        how="manual_dispatch",
    )


def recategorised(
    event: TicketRecategorised, previous: TicketRouting | None
) -> LabelledExample | None:
    if previous is None or previous.category == event.category:
        return None
    return LabelledExample(
        ticket_id=event.ticket_id,
        text=previous.description,
        category=event.category,
        who=event.changed_by,
        when=event.occurred_at,
        how="recategorised",
    )


class ExampleLog:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def record(self, example: LabelledExample | None) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            queue_example(pipe, example)
            await pipe.execute()

    async def all(self) -> list[LabelledExample]:
        raw = await self.redis.lrange(KEY, 0, -1)
        return [LabelledExample.model_validate_json(item) for item in raw]


def queue_example(pipe: Pipeline, example: LabelledExample | None) -> None:
    """`ExampleLog.record`'s writes inside the caller's transaction (the router's batch
    writes them with the states, so a publish failing after it loses none)."""
    if example is None or not example.text.strip():
        return
    pipe.rpush(KEY, example.model_dump_json())
    pipe.ltrim(KEY, -MAX_EXAMPLES, -1)


def to_tsv(examples: list[LabelledExample]) -> str:
    """The latest label per ticket wins (a recategorisation corrects a dispatch)."""
    latest: dict[str, LabelledExample] = {}
    for example in examples:
        latest[example.ticket_id] = example
    return "".join(example.row().line() + "\n" for example in latest.values())


async def fetch(redis_url: str) -> list[LabelledExample]:
    redis = Redis.from_url(redis_url)
    try:
        return await ExampleLog(redis).all()
    finally:
        await redis.aclose()


def main(argv: list[str] | None = None) -> int:
    from chuishao.router.settings import RouterSettings  # noqa: PLC0415 (the CLI only)

    parser = argparse.ArgumentParser(description="Export dispatcher examples as corpus TSV")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--redis-url", default=None, help="default: the router's setting")
    args = parser.parse_args(argv)
    url = args.redis_url or str(RouterSettings().redis_url)
    found = asyncio.run(fetch(url))
    args.out.write_text(to_tsv(found), encoding="utf-8")
    print(f"{len(found)} examples → {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
