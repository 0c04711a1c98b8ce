"""The points service's composition root: the TICKETS consumer that keeps the ledger, the
exchange and account responders, and the relay of unconfirmed exchanges."""

from faststream.nats import NatsBroker
from redis.asyncio import Redis

from chuishao.common import subjects
from chuishao.common.broker import answer_requests, durable_subscriber
from chuishao.common.clock import Clock
from chuishao.common.events import AnyEvent
from chuishao.common.loops import every
from chuishao.common.runtime import Phase, Runtime, compose
from chuishao.common.streams import POINTS_LEDGER
from chuishao.points.policy import PointsPolicy
from chuishao.points.service import PRODUCER, Points
from chuishao.points.settings import PointsSettings
from chuishao.points.store import PointsStore


class PointsService:
    def __init__(self, runtime: Runtime, points: Points) -> None:
        self.runtime = runtime
        self.points = points
        self.store = points.store

    async def connect(self) -> None:
        self.points.nats = self.runtime.broker.connection


def bootstrap(
    settings: PointsSettings,
    *,
    clock: Clock | None = None,
    redis: Redis | None = None,
    broker: NatsBroker | None = None,
) -> PointsService:
    """Build points; a test passes its own clock, Redis or broker (and closes them itself)."""
    runtime = compose(PRODUCER, settings, clock=clock, redis=redis, broker=broker)
    broker = runtime.broker
    policy = PointsPolicy.load(settings.points_policy_file)
    points = Points(PointsStore(runtime.redis, policy), policy, runtime.clock, settings)
    service = PointsService(runtime, points)

    @durable_subscriber(broker, POINTS_LEDGER)
    async def on_ticket_event(event: AnyEvent) -> None:
        await points.on_ticket_event(event)

    # The console's requests, each answered with what its handler returns.
    # Asked by the console only (units may never publish internal.>).
    answer_requests(broker, subjects.POINTS_EXCHANGE, PRODUCER, points.exchange)
    answer_requests(broker, subjects.POINTS_ACCOUNT, PRODUCER, points.account)

    runtime.streams(POINTS_LEDGER)
    runtime.add(Phase.PREPARE, "points", service.connect)
    runtime.loop(
        every(
            settings.points_relay_interval_seconds,
            points.relay,
            name="points-exchange-relay",
            wait_first=True,
        )
    )
    return service
