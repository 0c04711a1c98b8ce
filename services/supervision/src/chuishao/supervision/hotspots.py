"""Hotspot early warning (预警): many reports of one category in one grid in a short window.

Pure: given the report times of one grid × category (seconds since the epoch, event
time, so a replay decides the same), decide whether the newest report raises a warning.
A warning fires when the count in the window ending at that report reaches the
threshold, and the threshold rises to `jump_factor` × the trailing average where the grid
is busy anyway. After a warning the pair stays quiet for one window: a burst warns once,
not on every further report.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class HotspotRule:
    threshold: int = 5
    window_seconds: float = 24 * 3600.0
    jump_factor: float = 3.0
    trailing_windows: int = 7

    @property
    def history_seconds(self) -> float:
        """How far back report times are kept: the window and the trailing ones."""
        return self.window_seconds * (self.trailing_windows + 1)


@dataclass(frozen=True)
class Verdict:
    count: int
    threshold: int
    fire: bool


def _in(times: Sequence[float], after: float, until: float) -> int:
    return sum(after < t <= until for t in times)


def evaluate(
    rule: HotspotRule, times: Sequence[float], at: float, quiet_until: float | None
) -> Verdict:
    """`times` holds every kept report time, including the one at `at`."""
    window = rule.window_seconds
    count = _in(times, at - window, at)
    threshold = rule.threshold
    if rule.jump_factor > 0:
        trailing = [
            _in(times, at - (k + 1) * window, at - k * window)
            for k in range(1, rule.trailing_windows + 1)
        ]
        average = sum(trailing) / len(trailing)
        threshold = max(threshold, math.ceil(rule.jump_factor * average))
    quiet = quiet_until is not None and at < quiet_until
    return Verdict(count=count, threshold=threshold, fire=count >= threshold and not quiet)
