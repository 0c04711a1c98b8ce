"""Notify's dead letters, for ops: list them, replay them once the cause is fixed.

    python -m chuishao.notify.deadletters list [--json]
    python -m chuishao.notify.deadletters replay SEQ [SEQ …] | --all

A failed delivery job goes back onto its job subject as a new message (so it gets a fresh
attempt budget); an event notify could not fan out is fanned out again by this command,
exactly as the consumer would. The job id and the "handled" markers make a replay of
something that did land a no-op. A replayed letter is removed from the stream.
"""

import argparse
import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import datetime

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import RawStreamMsg
from nats.js.errors import NotFoundError
from pydantic import BaseModel

from chuishao.common import subjects
from chuishao.common.clients import redis_client
from chuishao.common.clock import SystemClock
from chuishao.common.delivery import (
    DELIVERIES_HEADER,
    ERROR_HEADER,
    REASON_HEADER,
    SUBJECT_HEADER,
)
from chuishao.common.events import parse_event
from chuishao.common.publishing import CORRELATION_HEADER, TICKET_HEADER
from chuishao.common.streams import DEADLETTER, NOTIFY, NOTIFY_DELIVERIES
from chuishao.common.units import units_view
from chuishao.notify.delivery_log import DeliveryLogStore
from chuishao.notify.fanout import FanOut
from chuishao.notify.jobs import DeliveryJob
from chuishao.notify.settings import NotifySettings

STREAM = DEADLETTER.name or "DEADLETTER"
JOB_LETTERS = subjects.dead_letter(NOTIFY_DELIVERIES.name)
EVENT_LETTERS = subjects.dead_letter(NOTIFY.name)
REPLAYED_HEADER = "Chuishao-Replayed-From"


class DeadLetter(BaseModel):
    seq: int
    stored_at: datetime | None
    consumer: str
    reason: str
    error: str
    original_subject: str
    deliveries: int
    ticket_id: str
    what: str  # "webhook urge -> grid-heyuan", or the event type


def describe(msg: RawStreamMsg) -> DeadLetter:
    headers = msg.headers or {}
    what = "unreadable"
    with contextlib.suppress(ValueError):
        if msg.subject == JOB_LETTERS:
            job = DeliveryJob.model_validate_json(msg.data or b"")
            what = f"{job.channel} {job.notice.template} -> {job.notice.recipient}"
        else:
            what = parse_event(msg.data or b"").type
    return DeadLetter(
        seq=msg.seq or 0,
        stored_at=msg.time,
        consumer=subjects.parse_dead_letter(msg.subject) if msg.subject else "",
        reason=headers.get(REASON_HEADER, ""),
        error=headers.get(ERROR_HEADER, ""),
        original_subject=headers.get(SUBJECT_HEADER, ""),
        deliveries=int(headers.get(DELIVERIES_HEADER, "0") or 0),
        ticket_id=headers.get(TICKET_HEADER, ""),
        what=what,
    )


async def letters(js: JetStreamContext) -> AsyncIterator[RawStreamMsg]:
    """Notify's letters in stream order (get-next by sequence: no consumer state)."""
    seq = 1
    while True:
        try:
            msg = await js.get_msg(STREAM, seq=seq, subject=subjects.DEAD_LETTERS, next=True)
        except NotFoundError:
            return
        seq = (msg.seq or seq) + 1
        if msg.subject in (JOB_LETTERS, EVENT_LETTERS):
            yield msg


async def list_letters(js: JetStreamContext) -> list[DeadLetter]:
    return [describe(msg) async for msg in letters(js)]


class Replayer:
    def __init__(self, nc: Client, settings: NotifySettings) -> None:
        self.nc = nc
        self.js = nc.jetstream()
        self.settings = settings
        self._fanout: FanOut | None = None

    async def replay(self, seq: int) -> str:
        msg = await self.js.get_msg(STREAM, seq=seq)
        headers = msg.headers or {}
        if msg.subject == JOB_LETTERS:
            job = DeliveryJob.model_validate_json(msg.data or b"")
            await self.js.publish(
                headers.get(SUBJECT_HEADER) or job.subject,
                msg.data or b"",
                headers={
                    # Two replays of one letter in quick succession make one job.
                    "Nats-Msg-Id": f"replay:{seq}",
                    TICKET_HEADER: job.event.ticket_id,
                    CORRELATION_HEADER: job.event.correlation_id,
                    REPLAYED_HEADER: str(seq),
                },
                timeout=5,
            )
            done = f"job {job.job_id} queued again"
        elif msg.subject == EVENT_LETTERS:
            event = parse_event(msg.data or b"")
            jobs = await (await self.fanout()).handle(event)
            done = f"{event.type} fanned out again ({len(jobs)} jobs)"
        else:
            raise ValueError(f"dead letter {seq} is not notify's ({msg.subject})")
        await self.js.delete_msg(STREAM, seq)
        return done

    async def fanout(self) -> FanOut:
        if self._fanout is None:
            redis = redis_client(self.settings)
            units = units_view()
            await units.start(self.js)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(units.loaded.wait(), timeout=10)
            self._fanout = FanOut(
                js=self.js,
                redis=redis,
                units=units,
                history=DeliveryLogStore(redis),
                clock=SystemClock(),
            )
        return self._fanout

    async def close(self) -> None:
        if self._fanout is not None:
            await self._fanout.units.stop()
            await self._fanout.redis.aclose()


async def run(args: argparse.Namespace, settings: NotifySettings) -> int:
    nc = await nats.connect(settings.nats_url)
    try:
        js = nc.jetstream()
        if args.command == "list":
            found = await list_letters(js)
            if args.json:
                print(json.dumps([f.model_dump(mode="json") for f in found], ensure_ascii=False))
            for letter in [] if args.json else found:
                print(
                    f"{letter.seq:>6}  {letter.stored_at:%Y-%m-%d %H:%M:%S}  "
                    f"{letter.reason:<17} {letter.ticket_id:<18} {letter.what}  "
                    f"({letter.deliveries} tries: {letter.error})"
                )
            return 0
        seqs = [m.seq or 0 for m in [msg async for msg in letters(js)]] if args.all else args.seq
        replayer = Replayer(nc, settings)
        failed = 0
        try:
            for seq in seqs:
                try:
                    print(f"{seq}: {await replayer.replay(seq)}")
                except (NotFoundError, ValueError) as error:  # the others still get a go
                    failed += 1
                    print(f"{seq}: not replayed: {error}")
        finally:
            await replayer.close()
        return 1 if failed else 0
    finally:
        await nc.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chuishao.notify.deadletters")
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="show notify's dead letters")
    listing.add_argument("--json", action="store_true")
    replaying = commands.add_parser("replay", help="deliver dead letters again")
    replaying.add_argument("seq", type=int, nargs="*", help="sequence numbers from `list`")
    replaying.add_argument("--all", action="store_true", help="every notify dead letter")
    args = parser.parse_args(argv)
    if args.command == "replay" and not (args.seq or args.all):
        parser.error("replay needs sequence numbers or --all")
    return asyncio.run(run(args, NotifySettings()))


if __name__ == "__main__":
    raise SystemExit(main())
