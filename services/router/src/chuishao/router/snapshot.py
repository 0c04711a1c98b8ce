"""Everything a routing step reads, frozen for the length of one message: a directory
reload swaps in a new snapshot and never changes one mid-step."""

from dataclasses import dataclass
from datetime import datetime

from chuishao.common.categories import Category
from chuishao.common.clock import Clock
from chuishao.router.directory import Directory
from chuishao.router.plugins_manager import Dispatcher
from chuishao.router.triage import Triage, Vocabulary, build_triage

PRODUCER = "router"


@dataclass(frozen=True)
class RoutingPolicy:
    triage_threshold: float = 0.72
    max_bounces: int = 2
    coordination_report_within_seconds: int = 2 * 3600
    emergency_report_within_seconds: int = 30 * 60


@dataclass(frozen=True)
class Snapshot:
    directory: Directory
    dispatcher: Dispatcher
    catalogue: list[Category]
    triage: Triage
    policy: RoutingPolicy
    clock: Clock

    def now(self) -> datetime:
        return self.clock.now()

    @classmethod
    def build(
        cls,
        dispatcher: Dispatcher,
        vocabulary: Vocabulary,
        policy: RoutingPolicy,
        clock: Clock,
    ) -> "Snapshot":
        catalogue = dispatcher.categories()
        return cls(
            directory=dispatcher.directory,
            dispatcher=dispatcher,
            catalogue=catalogue,
            triage=build_triage(vocabulary, catalogue),
            policy=policy,
            clock=clock,
        )
