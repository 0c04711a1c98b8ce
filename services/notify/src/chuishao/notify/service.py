"""Notify's parts: its two durable consumers, the delivery log responder, and the sweep
that releases held messages."""

import random
from zoneinfo import ZoneInfo

import httpx
import structlog
from faststream.exceptions import NackMessage
from faststream.nats import JStream, NatsBroker, PullSub
from redis.asyncio import Redis

from chuishao.common import subjects
from chuishao.common.batches import BatchConsumer
from chuishao.common.broker import current_message
from chuishao.common.catalogue import catalogue_view
from chuishao.common.delivery import dead_letter
from chuishao.common.events import AnyEvent
from chuishao.common.kv import KvView
from chuishao.common.places import places_view
from chuishao.common.presence import presence_view
from chuishao.common.runtime import Runtime
from chuishao.common.streams import NOTIFY, NOTIFY_DELIVERIES
from chuishao.common.unit_contacts import UnitContact
from chuishao.notify.channels import ResidentChannel
from chuishao.notify.channels.recorder import RecorderChannel
from chuishao.notify.channels.sms import SmsGatewayChannel
from chuishao.notify.channels.wechat import WechatTemplateChannel
from chuishao.notify.delivery_log import DeliveryLog, DeliveryLogQuery, DeliveryLogStore
from chuishao.notify.fanout import FanOut
from chuishao.notify.held import HeldJobs
from chuishao.notify.hotspots import HotspotWarnings, Words
from chuishao.notify.idempotency import SendLedger
from chuishao.notify.jobs import DeliveryJob
from chuishao.notify.messages import Messages
from chuishao.notify.protections import QuietHours, RateLimiter
from chuishao.notify.sending import Deliveries
from chuishao.notify.settings import NotifySettings
from chuishao.notify.to_residents import Holds, ToResidents
from chuishao.notify.to_units import ToDutyPhones, ToUnits
from chuishao.notify.webhooks import WebhookSender

log = structlog.get_logger()
HOUR, DAY = 3600, 86_400


def resident_channels(
    settings: NotifySettings, redis: Redis, client: httpx.AsyncClient
) -> list[ResidentChannel]:
    made: dict[str, ResidentChannel] = {"outbox": RecorderChannel(redis)}
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
    """Notify's parts (chuishao.notify.bootstrap composes them and the start-up order)."""

    def __init__(
        self,
        runtime: Runtime,
        settings: NotifySettings,
        http: httpx.AsyncClient,
        units: KvView[UnitContact],
        rng: random.Random | None = None,
    ) -> None:
        self.runtime = runtime
        self.settings = settings
        self.rng = rng
        self.broker: NatsBroker = runtime.broker
        self.redis: Redis = runtime.redis
        self.clock = runtime.clock
        self.http = http
        self.units = units
        # Which units have a clerk on the console's live queue (the report-in SMS waits).
        self.presence = presence_view()
        # Names of streets, grids and categories, and the street's command centre, for the
        # hotspot warnings (hotspots.py).
        self.places = places_view()
        self.catalogue = catalogue_view()
        self.history = DeliveryLogStore(self.redis)
        self.held = HeldJobs(self.redis)
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

    async def build(self) -> None:
        """Once NATS is connected: the parts that publish on it."""
        nc = self.broker.connection
        timezone = ZoneInfo(self.settings.timezone)
        self._fanout = FanOut(
            js=nc.jetstream(),
            redis=self.redis,
            units=self.units,
            history=self.history,
            clock=self.clock,
            hotspots=HotspotWarnings(self.units, self.places, self.settings.hotspot_channels),
        )
        messages = Messages(
            timezone,
            self.settings.resident_page_url,
            self.settings.resident_link_secret.get_secret_value(),
            Words(self.places, self.catalogue),
        )
        ledger = SendLedger(self.redis)
        holds = Holds(
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
        )
        channels = resident_channels(self.settings, self.redis, self.http)
        self._deliveries = Deliveries(
            nc,
            to_units=ToUnits(
                nc,
                units=self.units,
                webhooks=WebhookSender(self.http, self.settings.webhook_secrets),
                messages=messages,
                ledger=ledger,
            ),
            to_residents=ToResidents(
                nc,
                channels=channels,
                messages=messages,
                holds=holds,
                ledger=ledger,
                settings=self.settings,
            ),
            to_duty_phones=ToDutyPhones(
                units=self.units,
                channels=channels,
                messages=messages,
                ledger=ledger,
                presence=self.presence,
            ),
            ledger=ledger,
            history=self.history,
            clock=self.clock,
            settings=self.settings,
            rng=self.rng,
        )

    def _register(self) -> None:
        broker = self.broker

        # A batch at a time: what is waiting (up to `notify_batch_size`) is fanned out
        # in a few round trips (FanOut.handle_batch); alone at low load.
        async def on_ticket_events(events: list[AnyEvent]) -> None:
            await self.fanout.handle_batch(events)

        self.consumer = BatchConsumer[AnyEvent](
            broker,
            NOTIFY,
            AnyEvent,
            on_ticket_events,
            batch_size=self.settings.notify_batch_size,
        )

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

    async def sweep(self) -> int:
        """Release the held messages that are due; returns how many."""
        return await self.held.release_due(self.broker.connection.jetstream(), self.clock.now())

    async def release_held(self) -> None:
        """A step of the sweep loop."""
        released = await self.sweep()
        if released:
            log.info("held_messages_released", count=released)
