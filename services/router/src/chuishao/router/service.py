"""The router's moving parts: consumer, manual-queue commands, read models, reloads.

Each consumed event goes: handled marker → routing state → handler → publish (derived
ids) → save state (recording the event as applied) → handled marker. A crash anywhere
repeats the step with the same ids; the applied list stops a repeat past the marker.
"""

import asyncio
import contextlib
import signal
from typing import Any

import pluggy
import structlog
from faststream.nats import NatsBroker
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from pydantic import ValidationError
from redis.asyncio import Redis

from chuishao.common import subjects
from chuishao.common.broker import answers_failures, current_message, durable_subscriber
from chuishao.common.catalogue import publish_catalogue
from chuishao.common.clock import Clock
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
from chuishao.common.handled import mark_handled, was_handled
from chuishao.common.places import publish_places
from chuishao.common.publishing import publish_event
from chuishao.common.replies import withhold_reply
from chuishao.common.streams import ROUTER, provision
from chuishao.common.units import publish_units
from chuishao.router import handlers, manual
from chuishao.router.directory import Directory, DirectoryError
from chuishao.router.document import place_names
from chuishao.router.emit import Outcome
from chuishao.router.plugins_manager import Dispatcher
from chuishao.router.settings import RouterSettings
from chuishao.router.snapshot import Snapshot
from chuishao.router.state import RoutingStore, TicketRouting
from chuishao.router.triage import Vocabulary

log = structlog.get_logger()
Signature = tuple[tuple[int, int] | None, ...]


class RouterService:
    def __init__(
        self,
        settings: RouterSettings,
        broker: NatsBroker,
        redis: Redis,
        manager: pluggy.PluginManager,
        clock: Clock,
    ) -> None:
        self.settings = settings
        self.broker = broker
        self.store = RoutingStore(redis)
        self.manager = manager
        self.clock = clock
        self._files = (settings.directory_file, settings.triage_file)
        self._signature = self._stat()
        # A directory with a problem stops the start-up here, with every problem named.
        self.snapshot = self._load()
        self._watcher: asyncio.Task[None] | None = None
        self._reloading: set[asyncio.Task[bool]] = set()
        self._closing = asyncio.Event()
        self._register()

    # --- loading and reloading

    def _stat(self) -> Signature:
        def one(path: Any) -> tuple[int, int] | None:
            try:
                stat = path.stat()
            except OSError:
                return None
            return (stat.st_mtime_ns, stat.st_size)

        return tuple(one(path) for path in self._files)

    def _load(self) -> Snapshot:
        directory = Directory.load(self.settings.directory_file)
        try:
            vocabulary = Vocabulary.load(self.settings.triage_file)
        except (OSError, ValueError) as error:
            raise DirectoryError(f"{self.settings.triage_file}: {error}") from error
        dispatcher = Dispatcher(self.manager, directory)
        return Snapshot.build(dispatcher, vocabulary, self.settings.policy(), self.clock)

    async def reload(self, why: str) -> bool:
        """Swap in the files as they are now; a file with a problem is refused and the
        running version stays in force."""
        self._signature = self._stat()
        try:
            snapshot = self._load()
        except DirectoryError as error:
            log.error(
                "directory_reload_refused",
                why=why,
                error=str(error),
                kept_version=self.snapshot.directory.version,
            )
            return False
        self.snapshot = snapshot
        if self.broker.connection is not None:
            await self.publish_read_models()
        log.info("directory_reloaded", why=why, version=snapshot.directory.version)
        return True

    async def _watch(self) -> None:
        # Also ends on the flag: a client library may swallow a cancellation mid-call.
        while not self._closing.is_set():
            await asyncio.sleep(self.settings.directory_poll_seconds)
            if self._stat() != self._signature:
                try:
                    await self.reload("file changed")
                except Exception as error:  # noqa: BLE001 - keep watching; next change retries
                    log.warning("directory_reload_failed", error=repr(error))
                    self._signature = ()  # differs from any real one: retried next poll

    def _on_sighup(self) -> None:
        task = asyncio.ensure_future(self.reload("SIGHUP"))
        self._reloading.add(task)
        task.add_done_callback(self._reloading.discard)

    async def publish_read_models(self) -> None:
        js = self.broker.connection.jetstream()
        directory = self.snapshot.directory
        await publish_units(js, [directory.contact(unit) for unit in directory.units])
        await publish_places(js, place_names(self.snapshot.directory.document))
        await publish_catalogue(js, self.snapshot.catalogue)

    # --- lifecycle

    async def prepare(self) -> None:
        """Before the broker starts consuming: streams, consumer, read models."""
        await self.broker.connect()
        js = self.broker.connection.jetstream()
        await provision(js, (ROUTER,), replicas=self.settings.stream_replicas)
        await self.publish_read_models()
        self._watcher = asyncio.create_task(self._watch())
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self._on_sighup)
        log.info(
            "router_ready",
            directory_version=self.snapshot.directory.version,
            plugins=self.snapshot.dispatcher.plugin_names(),
            categories=len(self.snapshot.catalogue),
            units=len(self.snapshot.directory.units),
        )

    async def close(self) -> None:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
        self._closing.set()
        tasks = [*self._reloading, *([self._watcher] if self._watcher is not None else [])]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=10)

    # --- events

    def _register(self) -> None:
        @durable_subscriber(self.broker, ROUTER)
        async def on_ticket_event(event: AnyEvent) -> None:
            await self.handle(event)

        @self.broker.subscriber(manual.SUBJECTS, queue="router")
        @answers_failures
        async def on_manual_command() -> dict[str, Any]:
            message = current_message(self.broker)
            # Answered only on an inbox (intake's own, a centre's, or across accounts):
            # never on a subject the caller chose for the router to publish to.
            if withhold_reply(message):
                return {}
            _, _, centre_id, _, verb = message.raw_message.subject.split(".")
            return await self.manual_command(centre_id, verb, message.body)

    async def handle(self, event: Event) -> None:
        redis = self.store.redis
        if await was_handled(redis, ROUTER.name, event.event_id):
            return
        snap = self.snapshot
        previous = await self.store.get(event.ticket_id)
        if previous is not None and event.event_id in previous.applied:
            await mark_handled(redis, ROUTER.name, event.event_id)
            return
        outcome = await self._step(event, previous, snap)
        await self._apply(outcome, previous, event.event_id)
        await mark_handled(redis, ROUTER.name, event.event_id)
        log.info(
            "routed",
            cause=event.type,
            emitted=[e.type for e in outcome.events],
            units=_dispatched(outcome),
        )

    async def _apply(self, outcome: Outcome, previous: TicketRouting | None, cause_id: str) -> None:
        js = self.broker.connection.jetstream()
        for emitted in outcome.events:
            await publish_event(js, emitted)
        if outcome.state is not None:
            await self.store.save(outcome.state.applying(cause_id), previous)

    async def _step(self, event: Event, state: TicketRouting | None, snap: Snapshot) -> Outcome:
        if isinstance(event, TicketSubmitted):
            # A state with nobody on it was rebuilt by a later event that overtook this
            # one (a retried submit): the routing itself is still to do.
            routed = state is not None and (state.assignments or state.manual)
            return Outcome() if routed else handlers.route_submitted(event, snap)
        state = state or await self._recover(event.ticket_id, snap)
        if state is None:
            log.error("no_routing_state", cause=event.type)
            return Outcome()
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
        return Outcome()

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

    # --- the manual dispatch queue

    async def manual_command(self, centre_id: str, verb: str, body: bytes) -> dict[str, Any]:
        try:
            if verb == "list":
                request = manual.ListManualQueue.model_validate_json(body or b"{}")
                waiting = await self.store.queue(centre_id, request.limit)
                tickets = [manual.queued(state).model_dump(mode="json") for state in waiting]
                return {"ok": True, "centre": centre_id, "tickets": tickets}
            if verb == "assign":
                command = manual.AssignTicket.model_validate_json(body)
                return await self._assign(centre_id, command)
        except ValidationError as error:
            return _error(
                "invalid", error.errors(include_url=False, include_input=False).__repr__()
            )
        except manual.AssignmentRejected as error:
            return _error(error.code, str(error))
        return _error("unknown_verb", f"no command {verb!r}; one of ['assign', 'list']")

    async def _assign(self, centre_id: str, command: manual.AssignTicket) -> dict[str, Any]:
        snap = self.snapshot
        previous = await self.store.get(command.ticket_id)
        outcome = manual.assign(command, centre_id, previous, snap)
        await self._apply(outcome, previous, f"assign:{centre_id}:{command.lead}")
        dispatched = [e.unit_id for e in outcome.events if hasattr(e, "unit_id")]
        log.info(
            "assigned_by_hand", centre=centre_id, ticket_id=command.ticket_id, units=dispatched
        )
        return {"ok": True, "ticket_id": command.ticket_id, "dispatched": dispatched}


def _dispatched(outcome: Outcome) -> list[str]:
    return [e.unit_id for e in outcome.events if isinstance(e, TicketDispatched)]


def _error(code: str, detail: str) -> dict[str, Any]:
    return {"ok": False, "error": {"code": code, "detail": detail}}
