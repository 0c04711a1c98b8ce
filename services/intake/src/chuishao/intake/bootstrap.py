"""Intake's composition root: the store, the use cases, the keys, the read models and
the loops, put together and started in the runtime's order."""

from dataclasses import dataclass
from datetime import timedelta

import structlog
from faststream.nats import NatsBroker
from redis.asyncio import Redis

from chuishao.common.catalogue import catalogue_view
from chuishao.common.clock import Clock
from chuishao.common.loops import every
from chuishao.common.photos import Limits
from chuishao.common.places import places_view
from chuishao.common.runtime import Phase, Runtime, compose
from chuishao.common.streams import INTAKE_RECORDS
from chuishao.common.units import units_view
from chuishao.intake import consumers, nats_api, queries, rebuild, relay
from chuishao.intake.auth import ApiKeys
from chuishao.intake.feedback_window import FeedbackWindow, WindowPolicy
from chuishao.intake.photo_links import Photos
from chuishao.intake.retention import Retention, RetentionPolicy
from chuishao.intake.service import PRODUCER, Intake
from chuishao.intake.settings import IntakeSettings
from chuishao.intake.store import RecordStore

log = structlog.get_logger()
RELAY_SECONDS = 2.0


@dataclass(frozen=True)
class IntakeService:
    runtime: Runtime
    intake: Intake
    retention: Retention
    keys: ApiKeys
    photos: Photos
    feedback_window: FeedbackWindow


def bootstrap(
    settings: IntakeSettings,
    *,
    clock: Clock | None = None,
    redis: Redis | None = None,
    broker: NatsBroker | None = None,
) -> IntakeService:
    """Build intake; a test passes its own clock, Redis or broker (and closes them)."""
    settings.refuse_known_secrets()
    runtime = compose(PRODUCER, settings, clock=clock, redis=redis, broker=broker)
    broker, redis, clock = runtime.broker, runtime.redis, runtime.clock
    store = RecordStore(redis)
    catalogue, units = catalogue_view(), units_view()
    keys = ApiKeys(
        units=settings.unit_api_keys,
        operators=settings.operator_api_keys,
        open311=settings.open311_api_keys,
        unit_directory=units,
        supervisor_kinds=settings.supervisor_kinds,
        resident_secret=settings.resident_link_secret.get_secret_value(),
        console=settings.console_api_keys,
        person_secret=settings.person_token_secret.get_secret_value(),
    )
    intake = Intake(
        store=store,
        broker=broker,
        catalogue=catalogue,
        keys=keys,
        clock=clock,
        reporter_secret=settings.reporter_ref_secret.get_secret_value(),
        publish_timeout=settings.publish_timeout_seconds,
        duplicate_radius_m=settings.duplicate_radius_m,
        duplicate_window=timedelta(hours=settings.duplicate_window_hours),
        places=places_view(),
    )
    retention = Retention(
        store,
        clock,
        RetentionPolicy(
            rating_window=timedelta(days=settings.rating_window_days),
            retention=timedelta(days=settings.contact_retention_days),
        ),
        erasers=[],
    )
    feedback_window = FeedbackWindow(
        intake,
        WindowPolicy.in_days(settings.rating_window_days, settings.rating_window_days_by_category),
    )
    queries.register(broker, store)
    nats_api.register(broker, intake)

    async def records() -> None:
        # Ids and contacts from JetStream; records caught up with the stream before serving.
        await rebuild.before_serving(intake, settings)
        if intake.contacts is not None:  # the encrypted copy forgets the reporter too
            retention.add_eraser(intake.contacts.forget_reporter)

    async def relay_outbox() -> None:
        await relay.relay_once(store, intake.js, settings.outbox_grace_seconds)

    async def sweep() -> None:
        await retention.sweep()

    async def close_unrated() -> bool:
        # A full batch leaves more to close: the loop runs again at once.
        return await feedback_window.sweep() >= feedback_window.batch

    async def check() -> None:
        await rebuild.check_now(intake)

    async def ready() -> None:
        log.info("intake_ready", http=f"http://{settings.http_host}:{settings.http_port}")

    runtime.streams(INTAKE_RECORDS)
    runtime.batches(consumers.records_consumer(broker, store))
    runtime.add(Phase.PREPARE, "records", records, idempotent=True)
    photos = Photos(
        Limits(max_bytes=settings.photo_max_bytes, max_pixels=settings.photo_max_pixels)
    )

    async def open_photos() -> None:
        await photos.open(intake.js, settings.stream_replicas)

    runtime.add(Phase.PREPARE, "photo store", open_photos, idempotent=True)
    runtime.view(catalogue)
    runtime.view(units)
    if intake.places is not None:
        runtime.view(intake.places)
    runtime.loop(every(RELAY_SECONDS, relay_outbox, name="outbox-relay"))
    runtime.loop(every(settings.retention_sweep_seconds, sweep, name="retention-sweep"))
    runtime.loop(
        every(settings.feedback_window_sweep_seconds, close_unrated, name="feedback-window-sweep")
    )
    runtime.loop(every(settings.record_check_seconds, check, name="records-check", wait_first=True))
    runtime.add(Phase.READY, "ready", ready)
    return IntakeService(runtime, intake, retention, keys, photos, feedback_window)
