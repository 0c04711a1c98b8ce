"""The rates, from the counters of one scope and period (definitions: docs/supervision.md).
A rate whose denominator is zero is None ("—" on the page), never 0 % or 100 %."""

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict

# rate → (numerator, denominator)
DEFINITIONS: dict[str, tuple[str, str]] = {
    "response_rate": ("responded", "dispatched"),  # 响应率
    "resolution_rate": ("resolved", "answerable"),  # 解决率
    "satisfaction_rate": ("satisfied", "rated"),  # 满意率 (满意 + 基本满意)
    "strict_satisfaction_rate": ("rated_satisfied", "rated"),  # 满意 only
    "on_time_response_rate": ("responded_on_time", "responded"),  # 按时响应率
    "on_time_resolution_rate": ("resolved_on_time", "resolved"),  # 按时办结率
    "closure_rate": ("closed", "received"),  # 办结率
    # 回访率: rated resolutions of those whose wait for a rating ended (rated, or closed
    # when the rating window passed: `closed_unrated`).
    "callback_rate": ("rated", "feedback_ended"),
    # 直接答复率: calls answered from the knowledge base, closed without a dispatch.
    "direct_answer_rate": ("answered_directly", "received"),
}


HOURS_DIGITS = 2


class Rates(BaseModel):
    model_config = ConfigDict(frozen=True)

    scope: str
    period: str
    counts: dict[str, int]
    response_rate: float | None
    resolution_rate: float | None
    satisfaction_rate: float | None
    strict_satisfaction_rate: float | None
    on_time_response_rate: float | None
    on_time_resolution_rate: float | None
    closure_rate: float | None
    callback_rate: float | None
    direct_answer_rate: float | None
    # 平均办理时长: hours from dispatch to resolution (a unit: to its sign-off), the mean
    # over the resolved tickets whose dispatch is known (`handling_seconds` / `handled`).
    average_handling_hours: float | None = None

    def count(self, name: str) -> int:
        return self.counts.get(name, 0)


def ratio(counts: Mapping[str, int], numerator: str, denominator: str) -> float | None:
    below = counts.get(denominator, 0)
    return counts.get(numerator, 0) / below if below > 0 else None


def rates_of(scope: str, period: str, counts: Mapping[str, int]) -> Rates:
    return Rates(
        scope=scope,
        period=period,
        counts=dict(counts),
        **{name: ratio(counts, num, den) for name, (num, den) in DEFINITIONS.items()},
        average_handling_hours=average_hours(counts),
    )


def average_hours(counts: Mapping[str, int]) -> float | None:
    seconds = ratio(counts, "handling_seconds", "handled")
    return round(seconds / 3600, HOURS_DIGITS) if seconds is not None else None
