from pathlib import Path

from pydantic import Field

from chuishao.common.settings import ServiceSettings
from chuishao.router.snapshot import RoutingPolicy

DATA = Path(__file__).parent / "data"


class RouterSettings(ServiceSettings):
    directory_file: Path = DATA / "directory.toml"
    triage_file: Path = DATA / "triage.toml"
    # How often the files are checked for changes; SIGHUP reloads at once.
    directory_poll_seconds: float = Field(default=5.0, gt=0)
    triage_threshold: float = Field(default=0.72, ge=0, le=1)
    max_bounces: int = Field(default=2, ge=1, description="Declines before the street arbitrates")
    coordination_report_within_minutes: int = Field(default=120, gt=0)
    emergency_report_within_minutes: int = Field(default=30, gt=0)
    # The ticket events routed together at most (RouterService.handle_batch).
    router_batch_size: int = Field(default=64, ge=1, le=1000)

    def policy(self) -> RoutingPolicy:
        return RoutingPolicy(
            triage_threshold=self.triage_threshold,
            max_bounces=self.max_bounces,
            coordination_report_within_seconds=self.coordination_report_within_minutes * 60,
            emergency_report_within_seconds=self.emergency_report_within_minutes * 60,
        )
