"""Hotspot early warning (预警): many reports of one category in one grid in a short window.

Pure: given the report counts of one grid × category in the window and the trailing
ones (event time, seconds since the epoch, so a replay decides the same), decide whether
the newest report raises a warning.
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


def windows(rule: HotspotRule, at: float) -> list[tuple[float, float]]:
    """The (after, until] bounds of the window ending at `at`, then of each trailing one."""
    width = rule.window_seconds
    count = rule.trailing_windows + 1 if rule.jump_factor > 0 else 1
    return [(at - (k + 1) * width, at - k * width) for k in range(count)]


def decide(
    rule: HotspotRule, counts: Sequence[int], at: float, quiet_until: float | None
) -> Verdict:
    """`counts` holds the reports in each of `windows(rule, at)`, the newest included."""
    count = counts[0]
    threshold = rule.threshold
    if rule.jump_factor > 0:
        trailing = counts[1:]
        average = sum(trailing) / len(trailing)
        threshold = max(threshold, math.ceil(rule.jump_factor * average))
    quiet = quiet_until is not None and at < quiet_until
    return Verdict(count=count, threshold=threshold, fire=count >= threshold and not quiet)


def evaluate(
    rule: HotspotRule, times: Sequence[float], at: float, quiet_until: float | None
) -> Verdict:
    """`times` holds every kept report time, including the one at `at`."""
    counts = [sum(after < t <= until for t in times) for after, until in windows(rule, at)]
    return decide(rule, counts, at, quiet_until)
