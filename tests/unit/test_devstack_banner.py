"""`make run`'s banner tells a moved stack clock, and Ctrl-C is a clean stop (exit 0)."""

import pytest

from chuishao.devstack.__main__ import clock_line, exit_status


def test_real_time_is_said_plainly() -> None:
    assert clock_line(0.0).split() == ["stack", "clock", "real", "time"]
    assert "real time" in clock_line(0.2)  # less than a second off is no travel


def test_a_moved_clock_is_shown_with_the_way_back() -> None:
    line = clock_line(52 * 3600.0)
    assert "+2 days, 4:00:00" in line
    assert "make timetravel BY=0" in line
    assert "-1:00:00" in clock_line(-3600.0)


@pytest.mark.parametrize(
    ("honcho", "expected"),
    [(130, 0), (143, 0), (None, 0), (1, 1), (-9, -9)],
)
def test_a_stop_asked_for_exits_0_and_a_crash_does_not(honcho: int | None, expected: int) -> None:
    assert exit_status(honcho) == expected
