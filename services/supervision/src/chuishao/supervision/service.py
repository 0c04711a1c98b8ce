"""The supervision service's parts: the consumer that feeds the projection, the outbox
relay, the gauges, and the readers the page uses."""

from zoneinfo import ZoneInfo

import structlog

from chuishao.common.batches import BatchConsumer
from chuishao.common.catalogue import catalogue_view
from chuishao.common.clock import SharedClock
from chuishao.common.events import AnyEvent
from chuishao.common.metrics import metrics_of
from chuishao.common.places import places_view
from chuishao.common.runtime import Runtime
from chuishao.common.streams import SUPERVISION
from chuishao.common.units import units_view
from chuishao.supervision.access import Access, ViewerScope
from chuishao.supervision.assessment import RankedRow, load_policy
from chuishao.supervision.board import Board, Reader
from chuishao.supervision.display import DisplayTokens
from chuishao.supervision.districtmap import mapped
from chuishao.supervision.gauges import Gauges
from chuishao.supervision.hotspot_sender import relay
from chuishao.supervision.hotspots import HotspotRule
from chuishao.supervision.keys import ALL_PERIODS, SupervisionKeys
from chuishao.supervision.live_batch import apply_batch
from chuishao.supervision.projection import Projection, mark_month_counters
from chuishao.supervision.ranking_cache import RankingCache
from chuishao.supervision.rendering import Renderer
from chuishao.supervision.report import (
    MonthlyReport,
    ReportSources,
    monthly_report,
    ranked_units,
)
from chuishao.supervision.settings import SupervisionSettings

RELAY_SECONDS = 2.0

log = structlog.get_logger()


def hotspot_rule(settings: SupervisionSettings) -> HotspotRule:
    return HotspotRule(
        threshold=settings.hotspot_threshold,
        window_seconds=settings.hotspot_window_hours * 3600,
        jump_factor=settings.hotspot_jump_factor,
        trailing_windows=settings.hotspot_trailing_windows,
    )


class Supervision:
    """The parts; chuishao.supervision.bootstrap composes them and their start-up order."""

    def __init__(self, runtime: Runtime, settings: SupervisionSettings) -> None:
        self.runtime = runtime
        self.settings = settings
        self.broker = broker = runtime.broker
        self.redis = runtime.redis
        self.clock = runtime.clock
        zone = ZoneInfo(settings.supervision_timezone)
        keys = SupervisionKeys(settings.supervision_namespace)
        self.projection = Projection(self.redis, keys, zone, hotspot_rule(settings))
        self.reader = Reader(self.redis, keys)
        self.places = places_view()
        self.renderer = Renderer(zone, places=self.places.all)
        self.renderer.console_url = settings.supervision_console_url.rstrip("/")
        self.units = units_view()
        self.catalogue = catalogue_view()
        self.access = Access(
            unit_keys=settings.unit_api_keys,
            supervisor_kinds=settings.supervisor_kinds,
            units=self.units,
            places=self.places,
            displays=DisplayTokens(self.redis),
        )
        self.gauges = Gauges(metrics_of(broker).registry)
        # Read (and validated) at start: a bad policy file stops the service, not a report.
        self.policy = load_policy(settings.assessment_policy_file)
        # Every screen's refresh reads the month's ranking: shared a few seconds per scope.
        self.rankings = RankingCache(settings.board_ranking_cache_seconds)

        # A batch at a time: what is waiting (up to `supervision_batch_size`) is folded
        # and written in one transaction (supervision.live_batch); alone at low load.
        async def on_ticket_events(events: list[AnyEvent]) -> None:
            if await apply_batch(self.projection, list(events)):
                await self.relay()

        self.consumer = BatchConsumer[AnyEvent](
            broker,
            SUPERVISION,
            AnyEvent,
            on_ticket_events,
            batch_size=settings.supervision_batch_size,
        )

    def unit_name(self, unit_id: str) -> str:
        unit = self.units.get(unit_id)
        return unit.name if unit is not None else unit_id

    def category_names(self) -> dict[str, str]:
        return {category.code: category.name for category in self.catalogue.all()}

    def clock_offset_seconds(self) -> float:
        return self.clock.offset_seconds if isinstance(self.clock, SharedClock) else 0.0

    async def board(self, scope: ViewerScope, period: str = ALL_PERIODS) -> Board:
        board = await self.reader.board(
            self.clock.now(),
            period,
            self.unit_name,
            streets=None if scope.everything else sorted(scope.streets),
            scope=scope.label,
            place_name=self.access.name,
        )
        units, places, categories = board.codes()
        category_names = self.category_names()
        # The ranking of the board's month: of a day or month asked for, else the current.
        month = (
            period[:7] if period != ALL_PERIODS else self.renderer.local_time(board.as_of, "%Y-%m")
        )
        return board.model_copy(
            update={
                "places": await self.reader.loads(mapped(self.places.all(), board.scope_streets)),
                "ranking_month": month,
                "ranking": await self.ranking(board.scope_streets, month),
                "clock_offset_seconds": self.clock_offset_seconds(),
                "unit_names": {code: self.unit_name(code) for code in sorted(units)},
                "place_names": {code: self.access.name(code) for code in sorted(places)},
                "category_names": {
                    code: category_names.get(code, code) for code in sorted(categories)
                },
            }
        )

    async def ranking(self, streets: list[str] | None, month: str) -> list[RankedRow]:
        """The board's ranking of `month` for `streets` (None: everything), as the monthly
        report ranks them; kept `board_ranking_cache_seconds` and shared by every screen."""
        key = (None if streets is None else tuple(sorted(streets)), month)
        return await self.rankings.get(
            key, lambda: ranked_units(self.report_sources(), streets, month)
        )

    def report_sources(self) -> ReportSources:
        return ReportSources(
            reader=self.reader,
            policy=self.policy,
            unit_name=self.unit_name,
            place_name=self.access.name,
            category_names=self.category_names,
        )

    async def monthly_report(self, scope: ViewerScope, month: str) -> MonthlyReport:
        return await monthly_report(self.report_sources(), scope, month, self.clock.now())

    async def mark_month_counters(self) -> None:
        projection = self.projection
        since = await mark_month_counters(
            self.redis, projection.keys, self.clock.now(), projection.zone
        )
        log.info("month_counters", complete_from=since)

    async def relay(self) -> None:
        await relay(self.redis, self.projection.keys, self.broker.connection.jetstream())

    async def refresh_gauges(self) -> None:
        await self.gauges.refresh(self.reader, self.broker.connection.jetstream())
