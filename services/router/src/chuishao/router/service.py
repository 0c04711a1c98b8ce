"""The router's consumer: each ticket event routed by the handlers.

Each consumed event goes: handled marker → routing state → handler → save state
(recording the event as applied) with the emitted events in the outbox, in one
transaction → publish them (derived ids) and confirm → handled marker. A crash before the
save repeats the step with the same ids; after it, the applied list stops the repeat and
the outbox relay sends what was not confirmed.
The files and read models are `directory_watch`'s, the manual queue `manual_queue`'s;
`bootstrap` puts them together.
"""

import structlog
from faststream.nats import NatsBroker
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from chuishao.common import subjects
from chuishao.common.broker import durable_subscriber
from chuishao.common.events import (
    AnyEvent,
    Event,
    TicketDeclined,
    TicketDispatched,
    TicketEscalated,
    TicketRecategorised,
    TicketReopened,
    TicketSubmitted,
    TicketTransferred,
)
from chuishao.common.handled import mark_handled
from chuishao.common.publishing import publish_event
from chuishao.common.runtime import Runtime
from chuishao.common.streams import ROUTER
from chuishao.router import examples, handlers
from chuishao.router.directory_watch import DirectoryWatch
from chuishao.router.emit import RoutingResult
from chuishao.router.manual_queue import ManualQueueCommands
from chuishao.router.snapshot import Snapshot
from chuishao.router.state import TicketRouting
from chuishao.router.store import RoutingStore

log = structlog.get_logger()


class RouterService:
    def __init__(
        self, runtime: Runtime, broker: NatsBroker, store: RoutingStore, watch: DirectoryWatch
    ) -> None:
        self.runtime = runtime
        self.broker = broker
        self.store = store
        self.watch = watch
        self.manual = ManualQueueCommands(store, watch.current, self.apply)
        self.manual.register(broker)

        @durable_subscriber(broker, ROUTER)
        async def on_ticket_event(event: AnyEvent) -> None:
            await self.handle(event)

    @property
    def snapshot(self) -> Snapshot:
        return self.watch.snapshot

    async def reload(self, why: str) -> bool:
        return await self.watch.reload(why)

    async def handle(self, event: Event) -> None:
        redis = self.store.redis
        handled, previous = await self.store.get_unless_handled(ROUTER.name, event)
        if handled:
            return
        snap = self.watch.snapshot
        if previous is not None and event.event_id in previous.applied:
            await mark_handled(redis, ROUTER.name, event)
            return
        outcome = await self._step(event, previous, snap)
        await self.apply(outcome, previous, event.event_id)
        if isinstance(event, TicketRecategorised):  # a labelled example for triage
            await examples.ExampleLog(redis).record(examples.recategorised(event, previous))
        await mark_handled(redis, ROUTER.name, event)
        # Debug: a line per message, rendered and masked, costs CPU on every ticket.
        log.debug(
            "routed",
            cause=event.type,
            emitted=[e.type for e in outcome.events],
            units=_dispatched(outcome),
        )

    async def apply(
        self, outcome: RoutingResult, previous: TicketRouting | None, cause_id: str
    ) -> None:
        """Save a step's state (recording the cause) with what it emitted queued in the
        outbox, then publish that and confirm it; the outbox relay sends what a crash or
        an outage left unconfirmed."""
        js = self.broker.connection.jetstream()
        events = list(outcome.events)
        if outcome.state is None:  # no state to keep them with
            for emitted in events:
                await publish_event(js, emitted)
            return
        await self.store.save(outcome.state.applying(cause_id), previous, events)
        await self.store.outbox.publish(js, events)

    async def _step(
        self, event: Event, state: TicketRouting | None, snap: Snapshot
    ) -> RoutingResult:
        if isinstance(event, TicketSubmitted) and event.answered is not None:
            return RoutingResult()  # 直接答复: the operator answered it; nothing to route
        if isinstance(event, TicketSubmitted):
            # A state with nobody on it was rebuilt by a later event that overtook this
            # one (a retried submit): the routing itself is still to do.
            routed = state is not None and (state.assignments or state.manual)
            return RoutingResult() if routed else handlers.route_submitted(event, snap)
        state = state or await self._recover(event.ticket_id, snap)
        if state is None:
            log.error("no_routing_state", cause=event.type)
            return RoutingResult()
        match event:
            case TicketDeclined():
                return handlers.redispatch_declined(event, state, snap)
            case TicketReopened():
                return handlers.reopen(event, state, snap)
            case TicketTransferred():
                return handlers.transfer(event, state, snap)
            case TicketEscalated():
                return handlers.escalate(event, state, snap)
            case TicketRecategorised():
                return handlers.recategorise(event, state, snap)
        return RoutingResult()

    async def _recover(self, ticket_id: str, snap: Snapshot) -> TicketRouting | None:
        """Rebuild a lost (or expired) state from the ticket's submitted event."""
        js: JetStreamContext = self.broker.connection.jetstream()
        try:
            message = await js.get_last_msg(
                ROUTER.stream, subjects.ticket_event("submitted", ticket_id)
            )
        except NotFoundError:
            return None
        ticket = TicketSubmitted.model_validate_json(message.data or b"")
        state = handlers.initial_state(ticket, snap)
        if state.category is None:
            state = state.model_copy(
                update={"category": snap.triage.classify(ticket.description).category}
            )
        log.warning("routing_state_recovered", ticket_id=ticket_id)
        return state


def _dispatched(outcome: RoutingResult) -> list[str]:
    return [e.unit_id for e in outcome.events if isinstance(e, TicketDispatched)]
