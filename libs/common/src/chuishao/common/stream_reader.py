"""Reading a stretch of a stream in order, for the rebuilds that replay TICKETS into
what a service keeps in Redis (intake's records, sla's clocks): an ephemeral consumer
that acknowledges nothing and leaves nothing behind."""

import contextlib
from collections.abc import AsyncIterator

from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

BATCH = 500


async def last_sequence(js: JetStreamContext, stream: str) -> int:
    try:
        return int((await js.stream_info(stream)).state.last_seq)
    except NotFoundError:
        return 0


async def read(
    js: JetStreamContext,
    stream: str,
    after: int,
    until: int,
    filters: list[str],
) -> AsyncIterator[tuple[int, bytes]]:
    """The stored messages (sequence, data) after sequence `after` up to `until`."""
    async for message in messages(js, stream, after, until, filters):
        yield message.metadata.sequence.stream, message.data


async def messages(
    js: JetStreamContext,
    stream: str,
    after: int,
    until: int,
    filters: list[str],
) -> AsyncIterator[Msg]:
    """The stored messages after sequence `after` up to `until`, whole (with their
    subjects and headers)."""
    if until <= after:
        return
    subscription = await js.pull_subscribe(
        "",
        stream=stream,
        config=ConsumerConfig(
            filter_subjects=filters,
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=after + 1,
            ack_policy=AckPolicy.NONE,
            inactive_threshold=60.0,
        ),
    )
    try:
        if (await subscription.consumer_info()).num_pending == 0:
            return
        while True:
            try:
                messages = await subscription.fetch(BATCH, timeout=5)
            except NatsTimeout:
                return
            for message in messages:
                if message.metadata.sequence.stream > until:
                    return
                yield message
            if messages[-1].metadata.num_pending == 0:
                return
    finally:
        with contextlib.suppress(Exception):
            await subscription.unsubscribe()


async def acknowledged_until(js: JetStreamContext, stream: str, consumer: str) -> tuple[int, int]:
    """The stream's last sequence, and the one up to which the durable consumer has
    handled (acknowledged) every message it reads."""
    last = await last_sequence(js, stream)
    info = await js.consumer_info(stream, consumer)
    if info.num_pending == 0 and info.num_ack_pending == 0:
        return last, last
    return last, int(info.ack_floor.stream_seq or 0) if info.ack_floor else 0
