"""The rules of reward points (积分), from a TOML file (data/points.toml by default)."""

import tomllib
from datetime import datetime
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

CloseReason = str


class PointsPolicy(BaseModel):
    """How many points what earns, the daily cap, and which closings void a report."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    timezone: str = "Asia/Shanghai"
    accepted: int = Field(ge=0, description="The report was accepted (first dispatch)")
    resolved: int = Field(ge=0, description="The report was resolved (first resolution)")
    daily_cap: int = Field(ge=0, description="Most points one reporter earns in one day")
    void_close_reasons: tuple[CloseReason, ...] = ("duplicate", "withdrawn")
    source: str = "points.toml"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def day_of(self, moment: datetime) -> str:
        """The ledger's day of a moment: its date in the policy's zone, ISO (2026-12-03)."""
        return moment.astimezone(self.zone).date().isoformat()

    def points_for(self, reason: str) -> int:
        return self.accepted if reason == "accepted" else self.resolved

    @classmethod
    def load(cls, path: Path | None = None) -> "PointsPolicy":
        if path is None:
            text = resources.files("chuishao.points").joinpath("data/points.toml").read_text()
            source = "chuishao.points/data/points.toml"
        else:
            text, source = path.read_text(encoding="utf-8"), str(path)
        return cls.model_validate({**tomllib.loads(text), "source": source})
