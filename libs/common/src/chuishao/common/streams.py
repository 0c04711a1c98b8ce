"""JetStream streams and durable consumers: defined here once, declared idempotently."""

import contextlib
import dataclasses
from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DiscardPolicy,
    KeyValueConfig,
    ObjectStoreConfig,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import NotFoundError

from chuishao.common import events, subjects
from chuishao.common.transient import retried

DAY = 86_400.0
# How long the record is kept: a year of tickets plus a margin for annual statistics.
RECORD_AGE = 400 * DAY

# Publishers retry with the same Nats-Msg-Id; repeats inside this window are dropped.
DUPLICATE_WINDOW = 600.0


def _stream(
    name: str,
    description: str,
    subject: str,
    max_age: float,
    retention: RetentionPolicy = RetentionPolicy.LIMITS,
) -> StreamConfig:
    """A stream as every one here is declared: one subject tree, kept on file, old messages
    discarded when full, and the duplicate window that makes a publisher's retry safe."""
    return StreamConfig(
        name=name,
        description=description,
        subjects=[subject],
        retention=retention,
        storage=StorageType.FILE,
        max_age=max_age,
        duplicate_window=DUPLICATE_WINDOW,
        discard=DiscardPolicy.OLD,
    )


TICKETS = _stream(
    "TICKETS",
    "Every ticket lifecycle event: the system's record of what happened",
    subjects.TICKET_EVENTS,
    max_age=RECORD_AGE,
)
UNITS = _stream(
    "UNITS",
    "Deliveries to units, one subject tree per unit (dept.<unit>.>)",
    subjects.UNIT_DELIVERIES,
    max_age=90 * DAY,
)
DEADLETTER = _stream(
    "DEADLETTER",
    "Messages a consumer gave up on, with the reason in headers; replayable",
    subjects.DEAD_LETTERS,
    max_age=30 * DAY,
)
NOTIFY_JOBS = _stream(
    "NOTIFY_JOBS",
    "Notify's outbound deliveries (webhooks, resident messages), one per "
    "(event, recipient, channel); removed once delivered or dead-lettered",
    subjects.NOTIFY_JOBS,
    max_age=7 * DAY,
    # A job is work to do, not a record: the ack removes it. Retries wait in the consumer
    # (nack with delay), so a slow webhook never holds up the TICKETS consumer.
    retention=RetentionPolicy.WORK_QUEUE,
)
POINTS = _stream(
    "POINTS",
    "Reward points exchanged for goods (PointsExchanged), one subject per "
    "reporter reference; with TICKETS, what the points ledger is rebuilt from",
    subjects.POINTS_EVENTS,
    max_age=RECORD_AGE,  # as long as the tickets that earned the points
)
STREAMS: tuple[StreamConfig, ...] = (TICKETS, UNITS, DEADLETTER, NOTIFY_JOBS, POINTS)

# The photo store (chuishao.common.photos): one object store per purpose, kept as long as
# the tickets they prove (TICKETS' max_age), on file and replicated like the streams.
PHOTO_BUCKETS: tuple[ObjectStoreConfig, ...] = (
    ObjectStoreConfig(
        bucket="photos-report",
        description="Residents' photos of a problem (EXIF stripped), with thumbnails",
        ttl=TICKETS.max_age,
        storage=StorageType.FILE,
    ),
    ObjectStoreConfig(
        bucket="photos-evidence",
        description="Units' evidence photos of the work done (EXIF stripped), with thumbnails",
        ttl=TICKETS.max_age,
        storage=StorageType.FILE,
    ),
)
# Each photo's ticket, purpose and evidence metadata; content hash → first ticket; ticket →
# its photos.
PHOTO_INDEX = KeyValueConfig(
    bucket="photos-index",
    description="The photo store's index: photo metadata, content hashes, each ticket's photos",
    history=1,
    ttl=TICKETS.max_age,
    storage=StorageType.FILE,
)


@dataclass(frozen=True)
class ConsumerSpec:
    """A durable pull consumer and its delivery policy."""

    name: str
    stream: str
    filter_subjects: tuple[str, ...]
    max_deliver: int = 6
    ack_wait_seconds: float = 30.0
    max_ack_pending: int = 2_000
    # Wait before the next try after a transient failure; the last value repeats.
    backoff_seconds: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0)

    def config(self) -> ConsumerConfig:
        return ConsumerConfig(
            durable_name=self.name,
            ack_policy=AckPolicy.EXPLICIT,
            filter_subjects=list(self.filter_subjects),
            max_deliver=self.max_deliver,
            ack_wait=self.ack_wait_seconds,
            max_ack_pending=self.max_ack_pending,
        )

    @property
    def event_kinds(self) -> frozenset[str]:
        """The event kinds this consumer reads (`ticket.<kind>.*` filters only)."""
        kinds = set()
        for subject in self.filter_subjects:
            with contextlib.suppress(subjects.NotThisSubject):
                kinds.add(subjects.parse_ticket_event(subject)[0])
        return frozenset(kinds)

    def retry_delay(self, delivered: int) -> float:
        return self.backoff_seconds[min(max(delivered - 1, 0), len(self.backoff_seconds) - 1)]


# A summoned unit's steps on a ticket and the resident's turn, in the order the consumers
# filter them: each moves an sla clock and a supervision counter alike.
_UNIT_STEPS: tuple[type[events.Event], ...] = (
    events.TicketAcknowledged,
    events.TicketDeclined,
    events.TicketTransferred,
    events.TicketProgressNoted,
    events.TicketAwaitingResident,
    events.TicketResidentReplied,
)
ROUTER = ConsumerSpec(
    "router",
    "TICKETS",
    subjects.ticket_events(
        (
            events.TicketSubmitted,
            events.TicketDeclined,
            events.TicketReopened,
            events.TicketTransferred,
            events.TicketEscalated,
            # A supervisor's new category routes a ticket that waits for manual dispatch.
            events.TicketRecategorised,
        )
    ),
)
# Every lifecycle event that starts, stops, pauses or moves a clock (see docs/sla.md).
SLA = ConsumerSpec(
    "sla",
    "TICKETS",
    subjects.ticket_events(
        (
            events.TicketNeedsManualDispatch,
            events.TicketDispatched,
            *_UNIT_STEPS,
            events.ExtensionApproved,
            events.TicketRecategorised,
            events.UnitSignedOff,
            events.TicketResolved,
            events.TicketReopened,
            events.TicketClosed,
        )
    ),
)
NOTIFY = ConsumerSpec(
    "notify",
    "TICKETS",
    subjects.ticket_events(
        (
            events.TicketDispatched,
            events.TicketSubmitted,
            events.TicketResolved,
            events.SlaWarning,
            events.TicketEscalated,
            events.ReportLinked,
            events.ReportSplit,
            # A danger with a life at risk: the resident is told at once whom to ring.
            events.TicketTriaged,
            # A command centre urged a unit by hand (督办): the unit is told.
            events.TicketUrged,
            # A hotspot warning: the street's command centre is told (notify's hotspots.py).
            events.HotspotDetected,
        )
    ),
)
# Webhook calls and resident messages. notify retries them itself with jittered
# exponential back-off (nack with delay) and dead-letters them after its own attempt
# budget (CHUISHAO_DELIVERY_ATTEMPTS, at most this max_deliver, which is the backstop).
# ack_wait covers one HTTP call with its timeout plus the contact look-up.
NOTIFY_DELIVERIES = ConsumerSpec(
    "notify-deliveries",
    "NOTIFY_JOBS",
    (subjects.NOTIFY_JOBS,),
    max_deliver=10,
    ack_wait_seconds=60.0,
)
INTAKE_RECORDS = ConsumerSpec(
    "intake-records",
    "TICKETS",
    subjects.ticket_events(
        (
            events.TicketDispatched,
            events.TicketNeedsManualDispatch,
            events.SlaClockArmed,
            events.SlaBreached,
            events.UnitNotified,
            events.TicketEscalated,
            events.TicketTriaged,
            events.ReportLinked,
            events.ReportSplit,
        )
    ),
)
# Every event that moves a counter, the overdue list, a whistle or a hotspot window of
# the supervision projections (see docs/supervision.md).
SUPERVISION = ConsumerSpec(
    "supervision",
    "TICKETS",
    subjects.ticket_events(
        (
            events.TicketSubmitted,
            events.TicketTriaged,
            events.TicketNeedsManualDispatch,
            events.TicketDispatched,
            events.WhistleBlown,
            events.SlaClockArmed,
            *_UNIT_STEPS,
            events.TicketRecategorised,
            events.UnitSignedOff,
            events.TicketResolved,
            events.TicketRated,
            events.TicketReopened,
            events.TicketClosed,
            events.SlaBreached,
            events.TicketEscalated,
            events.ReportLinked,
            events.ReportSplit,
            events.AppealFiled,
            events.AppealDecided,
        )
    ),
)
# Every event that earns, voids or restores a reporter's reward points (docs/points.md).
POINTS_LEDGER = ConsumerSpec(
    "points",
    "TICKETS",
    subjects.ticket_events(
        (
            events.TicketSubmitted,
            events.TicketDispatched,
            events.TicketResolved,
            events.TicketClosed,
            events.ReportLinked,
            events.ReportSplit,
        )
    ),
)
# Hotspot warnings by SMS to the command-centre people (the console's hotspot_sms.py).
CONSOLE_HOTSPOTS = ConsumerSpec(
    "console-hotspots", "TICKETS", subjects.ticket_events((events.HotspotDetected,))
)
CONSUMERS: dict[str, ConsumerSpec] = {
    spec.name: spec
    for spec in (
        ROUTER,
        SLA,
        NOTIFY,
        NOTIFY_DELIVERIES,
        INTAKE_RECORDS,
        SUPERVISION,
        POINTS_LEDGER,
        CONSOLE_HOTSPOTS,
    )
}


async def declare_streams(js: JetStreamContext, replicas: int = 1) -> None:
    """`replicas`: 1 on a single server; 3 on a three-node cluster (R3), where a stream
    keeps serving and loses no acknowledged write while one node is down."""
    for stream in STREAMS:
        config = dataclasses.replace(stream, num_replicas=replicas)
        assert config.name is not None
        try:
            await js.stream_info(config.name)
        except NotFoundError:
            await js.add_stream(config)
        else:
            await js.update_stream(config)


async def declare_photo_buckets(js: JetStreamContext, replicas: int = 1) -> None:
    """The photo store's object stores and index, with the streams' replicas (an object
    store or a KV bucket is a stream underneath: the same R1 → R3 update applies)."""
    for store in PHOTO_BUCKETS:
        assert store.bucket is not None
        try:
            info = await js.stream_info(f"OBJ_{store.bucket}")
        except NotFoundError:
            config = dataclasses.replace(store, replicas=replicas)
            await js.create_object_store(store.bucket, config)
        else:
            if info.config.num_replicas != replicas:
                await js.update_stream(dataclasses.replace(info.config, num_replicas=replicas))
    index = dataclasses.replace(PHOTO_INDEX, replicas=replicas)
    try:
        info = await js.stream_info(f"KV_{index.bucket}")
    except NotFoundError:
        await js.create_key_value(index)
    else:
        if info.config.num_replicas != replicas:
            await js.update_stream(dataclasses.replace(info.config, num_replicas=replicas))


async def declare_consumers(js: JetStreamContext, specs: tuple[ConsumerSpec, ...]) -> None:
    for spec in specs:
        # Creating a durable consumer with an identical config is a no-op; a changed one
        # (new filter, new limits) is updated in place and keeps its position.
        await js.add_consumer(spec.stream, spec.config())


async def provision(
    js: JetStreamContext, specs: tuple[ConsumerSpec, ...] | None = None, *, replicas: int = 1
) -> None:
    """Declare every stream, then the given consumers (all of them by default); consumers
    take their stream's replicas."""
    chosen = tuple(CONSUMERS.values()) if specs is None else specs
    await retried(lambda: declare_streams(js, replicas), "declare streams")
    await retried(lambda: declare_photo_buckets(js, replicas), "declare photo buckets")
    await retried(lambda: declare_consumers(js, chosen), "declare consumers")
