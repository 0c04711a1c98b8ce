"""Notify's composition root: the broker, Redis, the units directory and the HTTP client
put together, and the order they start in."""

import random

import httpx
from faststream.nats import NatsBroker
from redis.asyncio import Redis

from chuishao.common import subjects
from chuishao.common.broker import answer_requests
from chuishao.common.clock import Clock
from chuishao.common.loops import every
from chuishao.common.runtime import Phase, compose
from chuishao.common.streams import NOTIFY, NOTIFY_DELIVERIES
from chuishao.common.units import units_view
from chuishao.notify.hotspot_sms import HotspotTexts
from chuishao.notify.hotspots import Words
from chuishao.notify.service import NotifyService, resident_channels
from chuishao.notify.settings import NotifySettings
from chuishao.notify.verification import VerificationCodes

PRODUCER = "notify"


def bootstrap(
    settings: NotifySettings,
    *,
    clock: Clock | None = None,
    redis: Redis | None = None,
    broker: NatsBroker | None = None,
    http: httpx.AsyncClient | None = None,
    rng: random.Random | None = None,
) -> NotifyService:
    """Build notify; a test passes its own clock, Redis, broker, HTTP client or random
    source (what it passes it closes itself)."""
    settings.refuse_known_secrets()
    runtime = compose(PRODUCER, settings, clock=clock, redis=redis, broker=broker)
    broker, redis, clock = runtime.broker, runtime.redis, runtime.clock
    if http is None:
        http = httpx.AsyncClient(timeout=settings.webhook_timeout_seconds, follow_redirects=False)
        runtime.add(Phase.CONNECT, "http client", None, http.aclose)
    units = units_view()
    service = NotifyService(runtime, settings, http, units, rng)
    # One-time codes by SMS for the residents' points page (verification.py).
    phones = resident_channels(settings, redis, http)
    codes = VerificationCodes(phones)
    answer_requests(broker, subjects.NOTIFY_VERIFICATION_CODE, PRODUCER, codes.send)
    # Hotspot warnings by SMS to the command-centre people the console names (hotspot_sms.py).
    texts = HotspotTexts(phones, Words(service.places, service.catalogue))
    answer_requests(broker, subjects.NOTIFY_HOTSPOT_SMS, PRODUCER, texts.send)

    runtime.streams(NOTIFY, NOTIFY_DELIVERIES)
    # An empty bucket (no router yet) still loads; only a stalled server waits.
    runtime.view(units, wait_loaded=10)
    runtime.view(service.presence)
    # Names for the hotspot warnings (the street, grid and category), loaded before the
    # consumer starts like the units, so a warning is never sent with bare codes.
    runtime.view(service.places, wait_loaded=10)
    runtime.view(service.catalogue, wait_loaded=10)
    runtime.add(Phase.PREPARE, "deliveries", service.build)
    runtime.batches(service.consumer)
    runtime.loop(every(settings.sweep_interval_seconds, service.release_held, name="held-release"))
    return service
