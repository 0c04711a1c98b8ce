"""Builds notify from its parts: the broker and its two durable consumers, the delivery
log responder, and the sweep that releases held messages."""

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator
from zoneinfo import ZoneInfo

import httpx
import structlog
from faststream.exceptions import NackMessage
from faststream.nats import JStream, NatsBroker, PullSub
from redis.asyncio import Redis

from chuishao.common import subjects
from chuishao.common.broker import current_message, durable_subscriber, make_broker
from chuishao.common.clients import redis_client, wait_for_servers
from chuishao.common.clock import Clock, make_clock, start_clock, stop_clock
from chuishao.common.delivery import dead_letter
from chuishao.common.events import AnyEvent
from chuishao.common.kv import KvView
from chuishao.common.streams import NOTIFY, NOTIFY_DELIVERIES, provision
from chuishao.common.units import UnitContact, units_view
from chuishao.notify.channels import ResidentChannel
from chuishao.notify.channels.outbox import OutboxChannel
from chuishao.notify.channels.sms import SmsGatewayChannel
from chuishao.notify.channels.wechat import WechatTemplateChannel
from chuishao.notify.delivery_log import DeliveryLog, DeliveryLogQuery, DeliveryLogStore
from chuishao.notify.fanout import FanOut
from chuishao.notify.held import HeldJobs
from chuishao.notify.idempotency import Ledger
from chuishao.notify.jobs import DeliveryJob
from chuishao.notify.messages import Messages
from chuishao.notify.protections import QuietHours, RateLimiter
from chuishao.notify.sending import Deliveries
from chuishao.notify.settings import NotifySettings
from chuishao.notify.webhooks import WebhookSender

log = structlog.get_logger()
HOUR, DAY = 3600, 86_400


def resident_channels(
    settings: NotifySettings, redis: Redis, client: httpx.AsyncClient
) -> list[ResidentChannel]:
    made: dict[str, ResidentChannel] = {"outbox": OutboxChannel(redis)}
    if settings.sms_gateway_url is not None:
        made["sms"] = SmsGatewayChannel(
            client,
            str(settings.sms_gateway_url),
            settings.sms_api_key,
            settings.sms_sign_name,
            settings.sms_template_codes,
        )
    if settings.wechat_api_url is not None:
        made["wechat"] = WechatTemplateChannel(
            client,
            str(settings.wechat_api_url),
            settings.wechat_access_token,
            settings.wechat_template_ids,
        )
    return [made[name] for name in settings.resident_channels]


class NotifyService:
    def __init__(
        self,
        settings: NotifySettings,
        logger: structlog.stdlib.BoundLogger,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.rng = rng
        self.broker: NatsBroker = make_broker(settings, logger)
        self.redis: Redis = redis_client(settings)
        self.clock = clock or make_clock(settings, self.redis)
        self.http = httpx.AsyncClient(
            timeout=settings.webhook_timeout_seconds, follow_redirects=False
        )
        self.units: KvView[UnitContact] = units_view()
        self.history = DeliveryLogStore(self.redis)
        self.held = HeldJobs(self.redis)
        self._sweeper: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._fanout: FanOut | None = None
        self._deliveries: Deliveries | None = None
        self._register()

    @property
    def fanout(self) -> FanOut:
        assert self._fanout is not None, "notify is not started"
        return self._fanout

    @property
    def deliveries(self) -> Deliveries:
        assert self._deliveries is not None, "notify is not started"
        return self._deliveries

    def _build(self) -> None:
        nc = self.broker.connection
        timezone = ZoneInfo(self.settings.timezone)
        self._fanout = FanOut(
            js=nc.jetstream(),
            redis=self.redis,
            units=self.units,
            history=self.history,
            clock=self.clock,
        )
        self._deliveries = Deliveries(
            nc=nc,
            units=self.units,
            webhooks=WebhookSender(self.http, self.settings.webhook_secrets),
            channels=resident_channels(self.settings, self.redis, self.http),
            messages=Messages(
                timezone,
                self.settings.public_base_url,
                self.settings.resident_link_secret.get_secret_value(),
            ),
            quiet_hours=QuietHours(
                self.settings.quiet_hours_start, self.settings.quiet_hours_end, timezone
            ),
            limiter=RateLimiter(
                self.redis,
                timezone,
                {
                    HOUR: self.settings.resident_max_per_hour,
                    DAY: self.settings.resident_max_per_day,
                },
            ),
            held=self.held,
            ledger=Ledger(self.redis),
            history=self.history,
            clock=self.clock,
            settings=self.settings,
            rng=self.rng,
        )

    def _register(self) -> None:
        broker = self.broker

        @durable_subscriber(broker, NOTIFY)
        async def on_ticket_event(event: AnyEvent) -> None:
            await self.fanout.handle(event)

        @broker.subscriber(
            NOTIFY_DELIVERIES.filter_subjects[0],
            stream=JStream(NOTIFY_DELIVERIES.stream, declare=False),
            durable=NOTIFY_DELIVERIES.name,
            config=NOTIFY_DELIVERIES.config(),
            pull_sub=PullSub(batch_size=16, timeout=1.0),
            # Several calls in flight, so one slow department does not hold up the rest.
            max_workers=self.settings.delivery_workers,
            no_reply=True,  # never answer a `reply_to` header (chuishao.common.broker)
        )
        async def on_job(job: DeliveryJob) -> None:
            raw = current_message(broker).raw_message
            meta = raw.metadata
            decision = await self.deliveries.run(job, meta.num_delivered)
            if decision.kind == "retry":
                raise NackMessage(delay=decision.delay)
            if decision.kind == "dead":
                await dead_letter(broker, raw, reason=decision.reason, error=decision.error)
                await self.deliveries.failed(
                    job, decision, meta.num_delivered, meta.sequence.stream
                )

        @broker.subscriber(subjects.DELIVERY_LOG, queue="notify")
        async def delivery_log(query: DeliveryLogQuery) -> DeliveryLog:
            return await self.history.read(query.ticket_id)

    async def prepare(self) -> None:
        """Before the consumers start: connections, streams, the units directory."""
        await wait_for_servers(self.settings)
        await start_clock(self.clock)
        await self.broker.connect()
        js = self.broker.connection.jetstream()
        await provision(js, (NOTIFY, NOTIFY_DELIVERIES), replicas=self.settings.stream_replicas)
        await self.units.start(js)
        with contextlib.suppress(TimeoutError):
            # An empty bucket (no router yet) still loads; only a stalled server waits.
            await asyncio.wait_for(self.units.loaded.wait(), timeout=10)
        self._build()

    async def start_sweeping(self) -> None:
        self._stopping.clear()
        self._sweeper = asyncio.create_task(self._sweep_forever())

    async def sweep(self) -> int:
        """Release the held messages that are due; returns how many."""
        return await self.held.release_due(self.broker.connection.jetstream(), self.clock.now())

    async def _sweep_forever(self) -> None:
        while not self._stopping.is_set():
            try:
                released = await self.sweep()
                if released:
                    log.info("held_messages_released", count=released)
            except Exception as error:  # noqa: BLE001 - the sweep must outlive a Redis or NATS hiccup
                log.error("sweep_failed", error=repr(error))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._stopping.wait(), timeout=self.settings.sweep_interval_seconds
                )

    async def stop_sweeping(self) -> None:
        # Stopped by a flag, not by cancelling: a client library that swallows a
        # CancelledError mid-call would leave a cancelled loop running for ever.
        self._stopping.set()
        if self._sweeper is not None:
            await self._sweeper
            self._sweeper = None

    async def close(self) -> None:
        await stop_clock(self.clock)
        await self.units.stop()
        await self.http.aclose()
        await self.redis.aclose()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator["NotifyService"]:
        """The whole service in this process (tests, the demo)."""
        await self.prepare()
        await self.broker.start()
        await self.start_sweeping()
        try:
            yield self
        finally:
            await self.stop_sweeping()
            await self.broker.stop()
            await self.close()
