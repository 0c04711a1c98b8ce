"""Intake's outbox relay: re-sends events that were stored but whose publish was never
confirmed. The mechanism is `chuishao.common.outbox` (dead letters `dlq.intake-outbox`);
this is intake's entry point to it."""

from nats.js import JetStreamContext

from chuishao.common import outbox, subjects
from chuishao.intake.store import OUTBOX_NAME, RecordStore

OUTBOX_LETTERS = subjects.dead_letter(OUTBOX_NAME)


async def relay_once(store: RecordStore, js: JetStreamContext, grace: float) -> int:
    return len(await outbox.relay_once(store.outbox, js, grace))
