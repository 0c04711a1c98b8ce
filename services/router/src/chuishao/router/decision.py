from pydantic import BaseModel, ConfigDict

from chuishao.common.domain import Level, Priority, UnitId, Whistle


class RoutingDecision(BaseModel):
    """Who must act: one lead unit (主办) and optional co-handlers (协办)."""

    model_config = ConfigDict(frozen=True)

    lead: UnitId
    co: tuple[UnitId, ...] = ()
    level: Level
    whistle: Whistle
    priority: Priority
    reason: str
