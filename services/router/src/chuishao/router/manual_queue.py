"""The manual dispatch queue on NATS: a centre's `list` and `assign` requests
(chuishao.router.manual holds the rules), answered only on an inbox."""

from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from faststream.nats import NatsBroker
from pydantic import ValidationError

from chuishao.common import subjects
from chuishao.common.broker import answers_failures, current_message
from chuishao.common.replies import withhold_reply
from chuishao.router import examples, manual
from chuishao.router.emit import RoutingResult
from chuishao.router.snapshot import Snapshot
from chuishao.router.state import TicketRouting
from chuishao.router.store import RoutingStore

log = structlog.get_logger()
Apply = Callable[[RoutingResult, TicketRouting | None, str], Awaitable[None]]


class ManualQueueCommands:
    def __init__(self, store: RoutingStore, snapshot: Callable[[], Snapshot], apply: Apply) -> None:
        self.store = store
        self.snapshot = snapshot
        self.apply = apply

    def register(self, broker: NatsBroker) -> None:
        @broker.subscriber(manual.SUBJECTS, queue="router")
        @answers_failures
        async def on_manual_command() -> dict[str, Any]:
            message = current_message(broker)
            # Answered only on an inbox (intake's own, a centre's, or across accounts):
            # never on a subject the caller chose for the router to publish to.
            if withhold_reply(message):
                return {}
            centre_id, verb = subjects.parse_manual_command(message.raw_message.subject)
            return await self.command(centre_id, verb, message.body)

    async def command(self, centre_id: str, verb: str, body: bytes) -> dict[str, Any]:
        try:
            if verb == "list":
                request = manual.ListManualQueue.model_validate_json(body or b"{}")
                waiting = await self.store.queue(centre_id, request.limit)
                snap = self.snapshot()
                tickets = [manual.queued(state, snap).model_dump(mode="json") for state in waiting]
                return {"ok": True, "centre": centre_id, "tickets": tickets}
            if verb == "assign":
                command = manual.AssignTicket.model_validate_json(body)
                return await self._assign(centre_id, command)
        except (ValidationError, manual.AssignmentRejected) as error:
            return manual.refused(error)
        return manual.unknown_verb(verb)

    async def _assign(self, centre_id: str, command: manual.AssignTicket) -> dict[str, Any]:
        snap = self.snapshot()
        previous = await self.store.get(command.ticket_id)
        outcome = manual.assign(command, centre_id, previous, snap)
        await self.apply(outcome, previous, f"assign:{centre_id}:{command.lead}")
        # What the centre chose teaches the triage model (make triage-model EXTRA=…).
        await examples.ExampleLog(self.store.redis).record(
            examples.manual_dispatch(previous, outcome.state, centre_id, snap.now())
        )
        dispatched = [e.unit_id for e in outcome.events if hasattr(e, "unit_id")]
        log.info(
            "assigned_by_hand", centre=centre_id, ticket_id=command.ticket_id, units=dispatched
        )
        return {"ok": True, "ticket_id": command.ticket_id, "dispatched": dispatched}
