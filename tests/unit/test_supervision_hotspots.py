"""The hotspot rule: fires at the threshold and not below, once per window, and only on a
jump where a grid is busy anyway."""

from chuishao.supervision.hotspots import HotspotRule, evaluate

H = 3600.0
RULE = HotspotRule(threshold=5, window_seconds=24 * H, jump_factor=3.0, trailing_windows=7)


def replay(rule: HotspotRule, hours: list[float]) -> list[int]:
    """Feed reports in order, as the projection does; returns the indexes that fired."""
    times: list[float] = []
    quiet_until: float | None = None
    fired = []
    for index, hour in enumerate(hours):
        at = hour * H
        times.append(at)
        verdict = evaluate(rule, times, at, quiet_until)
        if verdict.fire:
            fired.append(index)
            quiet_until = at + rule.window_seconds
    return fired


def test_four_reports_in_a_day_do_not_fire_and_the_fifth_does() -> None:
    assert replay(RULE, [0, 1, 2, 3]) == []
    assert replay(RULE, [0, 1, 2, 3, 4]) == [4]


def test_a_burst_fires_once_per_window() -> None:
    burst = [0, 1, 2, 3, 4, 5, 6, 7, 8, 23.9]
    assert replay(RULE, burst) == [4]
    # A day after the warning the burst still runs: it warns again, once.
    assert replay(RULE, [*burst, 28, 28.5, 29]) == [4, 10]


def test_reports_spread_wider_than_the_window_do_not_fire() -> None:
    every_seven_hours = [7.0 * n for n in range(12)]  # at most 4 in any 24 h
    assert replay(RULE, every_seven_hours) == []


def test_the_window_is_exact_at_its_edge() -> None:
    # The report exactly 24 h before the newest one is outside its window (after < t).
    assert evaluate(RULE, [0, 1 * H, 2 * H, 3 * H, 24 * H], 24 * H, None).count == 4
    assert evaluate(RULE, [1, 1 * H, 2 * H, 3 * H, 24 * H], 24 * H, None).count == 5


WEEK = [day * 24 + hour for day in range(7) for hour in (1, 9, 17)]  # three a day
TODAY = [7 * 24 + 0.5 * n for n in range(1, 12)]  # then one every half hour


def verdict_at(rule: HotspotRule, index: int) -> tuple[int, int]:
    hours = (WEEK + TODAY)[: index + 1]
    verdict = evaluate(rule, [h * H for h in hours], hours[-1] * H, None)
    return verdict.count, verdict.threshold


def test_a_busy_grid_needs_a_jump_over_its_trailing_average() -> None:
    # Three a day for the past week: the threshold becomes 3 × 3 = 9 in 24 h (the window
    # slides, so the evening reports of yesterday still count today).
    fired = replay(RULE, WEEK + TODAY)
    assert len(fired) == 1
    assert verdict_at(RULE, fired[0]) == (9, 9)
    assert verdict_at(RULE, fired[0] - 1) == (8, 9)


def test_without_the_jump_rule_the_plain_threshold_applies() -> None:
    plain = HotspotRule(threshold=5, window_seconds=24 * H, jump_factor=0)
    fired = replay(plain, WEEK + TODAY)
    assert verdict_at(plain, fired[0]) == (5, 5)
    assert fired[0] < replay(RULE, WEEK + TODAY)[0]
