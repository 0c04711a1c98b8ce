"""Supervision's own Prometheus gauges: open tickets by state, overdue tickets, and the
dead letters every consumer has left in the DEADLETTER stream."""

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from prometheus_client import CollectorRegistry, Gauge

from chuishao.common import subjects
from chuishao.common.status import Status
from chuishao.common.streams import DEADLETTER
from chuishao.supervision.board import Reader


class Gauges:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.open = Gauge(
            "chuishao_tickets_open", "Open tickets by state", ["state"], registry=registry
        )
        self.overdue = Gauge(
            "chuishao_tickets_overdue",
            "Open tickets with a clock that ran out (SlaBreached) and has not stopped",
            registry=registry,
        )
        self.dead_letters = Gauge(
            "chuishao_dead_letters",
            "Messages in the dead-letter stream, by the consumer that gave up on them",
            ["consumer"],
            registry=registry,
        )

    async def refresh(self, reader: Reader, js: JetStreamContext) -> None:
        states = await reader.states()
        for state in Status:
            if state in (Status.CLOSED, Status.LINKED):  # not open; never one here
                continue
            self.open.labels(state=state.value).set(states.get(state.value, 0))
        self.overdue.set(await reader.redis.zcard(reader.keys.overdue))
        assert DEADLETTER.name is not None
        try:
            info = await js.stream_info(DEADLETTER.name, subjects_filter=subjects.DEAD_LETTERS)
        except NotFoundError:
            return
        for subject, count in (info.state.subjects or {}).items():
            self.dead_letters.labels(consumer=subjects.parse_dead_letter(subject)).set(count)
