"""The router's consumer: each ticket event routed by the handlers.

Each consumed event goes: handled marker → routing state → handler → save state
(recording the event as applied) with the emitted events in the outbox, in one
transaction → publish them (derived ids) and confirm → handled marker. A crash before the
save repeats the step with the same ids; after it, the applied list stops the repeat and
the outbox relay sends what was not confirmed.
The files and read models are `directory_watch`'s, the manual queue `manual_queue`'s;
`bootstrap` puts them together.
"""

import functools
from collections.abc import Sequence

import structlog
from faststream.nats import NatsBroker
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from redis.exceptions import WatchError

from chuishao.common import subjects
from chuishao.common.batches import BatchConsumer
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
from chuishao.common.handled import queue_mark, unhandled
from chuishao.common.publishing import publish_event
from chuishao.common.runtime import Runtime
from chuishao.common.streams import ROUTER
from chuishao.router import examples, handlers, keys
from chuishao.router.directory_watch import DirectoryWatch
from chuishao.router.emit import RoutingResult
from chuishao.router.manual_queue import ManualQueueCommands
from chuishao.router.snapshot import Snapshot
from chuishao.router.state import TicketRouting
from chuishao.router.store import RoutingStore, StateConflict, following

log = structlog.get_logger()


class RouterService:
    def __init__(
        self,
        runtime: Runtime,
        broker: NatsBroker,
        store: RoutingStore,
        watch: DirectoryWatch,
        *,
        batch_size: int = 64,
    ) -> None:
        self.runtime = runtime
        self.broker = broker
        self.store = store
        self.watch = watch
        self.manual = ManualQueueCommands(store, watch.current, self.apply)
        self.manual.register(broker)

        # A batch at a time: what is waiting (up to `batch_size`) is stepped and saved in
        # a few round trips (handle_batch); alone at low load, so a report is not held.
        async def on_ticket_events(events: list[AnyEvent]) -> None:
            await self.handle_batch(events)

        self.consumer = BatchConsumer[AnyEvent](
            broker, ROUTER, AnyEvent, on_ticket_events, batch_size=batch_size
        )

    @functools.cached_property
    def js(self) -> JetStreamContext:
        """One context for the service's life: each context subscribes its own reply
        inbox for `publish_async` and never lets it go (one a batch, otherwise)."""
        return self.broker.connection.jetstream()

    @property
    def snapshot(self) -> Snapshot:
        return self.watch.snapshot

    async def reload(self, why: str) -> bool:
        return await self.watch.reload(why)

    async def handle(self, event: Event) -> None:
        await self.handle_batch([event])

    async def handle_batch(self, events: Sequence[Event]) -> None:
        """A batch of ticket events in stream order, in a few round trips whatever its
        size: one read of what was handled; the tickets WATCHed and read with one MGET;
        each event stepped in order on its ticket's state in memory; every new state
        saved with its events queued in the outbox in one MULTI; the events published
        together and confirmed; the handled marks in one write. Another replica writing
        one of these tickets meanwhile fails the transaction (StateConflict): the
        consumer then takes the batch again an event at a time."""
        redis = self.store.redis
        fresh = [events[at] for at in await unhandled(redis, ROUTER.name, events)]
        if not fresh:
            return
        snap = self.watch.snapshot
        ids = list(dict.fromkeys(event.ticket_id for event in fresh))
        ticket_keys = [keys.ticket(ticket_id) for ticket_id in ids]
        emitted: list[Event] = []
        labelled: list[examples.LabelledExample | None] = []
        async with redis.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(*ticket_keys)
                stored = await pipe.mget(ticket_keys)
                states = {
                    ticket_id: TicketRouting.from_stored(raw) if raw else None
                    for ticket_id, raw in zip(ids, stored, strict=True)
                }
                saves: list[tuple[TicketRouting, TicketRouting | None, RoutingResult]] = []
                for event in fresh:
                    previous = states[event.ticket_id]
                    if previous is not None and event.event_id in previous.applied:
                        continue
                    outcome = await self._step(event, previous, snap)
                    emitted += outcome.events
                    if isinstance(event, TicketRecategorised):  # a labelled example for triage
                        labelled.append(examples.recategorised(event, previous))
                    if outcome.state is not None:  # else no state to keep its events with
                        saved = following(outcome.state.applying(event.event_id), previous)
                        states[event.ticket_id] = saved
                        saves.append((saved, previous, outcome))
                    # Debug: a line per message, rendered and masked, costs CPU on every ticket.
                    log.debug(
                        "routed",
                        cause=event.type,
                        emitted=[e.type for e in outcome.events],
                        units=_dispatched(outcome),
                    )
                pipe.multi()  # type: ignore[no-untyped-call]
                for saved, previous, outcome in saves:
                    self.store.queue_save(pipe, saved, previous, outcome.events)
                for example in labelled:
                    examples.queue_example(pipe, example)
                await pipe.execute()
            except WatchError as error:
                raise StateConflict(", ".join(ids)) from error
        # Sent in order on one connection (so stored in order), acknowledged together;
        # confirming the events that had no state (not in the outbox) changes nothing.
        await self.store.outbox.publish_all(self.js, emitted)
        async with redis.pipeline(transaction=False) as marks:
            for event in fresh:
                queue_mark(marks, ROUTER.name, event)
            await marks.execute()

    async def apply(
        self, outcome: RoutingResult, previous: TicketRouting | None, cause_id: str
    ) -> None:
        """Save a step's state (recording the cause) with what it emitted queued in the
        outbox, then publish that and confirm it; the outbox relay sends what a crash or
        an outage left unconfirmed."""
        js = self.js
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
        js = self.js
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
