"""The one helper for background loops (chuishao.common.loops): it keeps going through
failures, backs off while they last, runs again at once when a step has more to do, and
stops even when a step swallows its cancellation."""

import asyncio
import contextlib
import itertools
import json

import pytest
import structlog

from chuishao.common import loops
from chuishao.common.logging import configure_logging
from chuishao.common.loops import Loop, every


async def test_a_failing_step_is_logged_backed_off_and_the_loop_goes_on(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    configure_logging("loops-test", "INFO", "json")  # into this test's captured stdout
    # The module's logger is cached on first use, by an earlier test with its own stdout.
    monkeypatch.setattr(loops, "log", structlog.get_logger())
    calls: list[float] = []
    enough = asyncio.Event()
    loop = asyncio.get_running_loop()

    async def step() -> None:
        calls.append(loop.time())
        if len(calls) >= 9:
            enough.set()
        if len(calls) <= 6:
            raise ConnectionError("redis away")

    running = every(0.01, step, name="flaky", max_backoff=2.0)
    await running.start()
    try:
        await asyncio.wait_for(enough.wait(), 5)
    finally:
        await running.stop()
    assert running.failures == 6
    gaps = [later - earlier for earlier, later in itertools.pairwise(calls)]
    # Doubling while it fails (0.01, 0.02, … 0.32), back to the interval once it succeeds.
    assert gaps[5] >= 0.3
    assert max(gaps[6:8]) < 0.3
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    failed = [line for line in lines if line["event"] == "loop_step_failed"]
    assert [line["loop"] for line in failed] == ["flaky"] * 6
    assert "redis away" in failed[0]["error"]


async def test_a_step_with_more_to_do_runs_again_at_once() -> None:
    rounds = 0
    done = asyncio.Event()

    async def step() -> bool:
        nonlocal rounds
        rounds += 1
        if rounds >= 50:
            done.set()
        return rounds < 50  # a full batch: more is due

    running = every(60.0, step, name="batches")
    await running.start()
    try:
        await asyncio.wait_for(done.wait(), 5)  # never waits its minute
    finally:
        await running.stop()


async def test_stop_ends_a_loop_whose_step_swallows_the_cancellation() -> None:
    entered = asyncio.Event()

    async def stubborn() -> None:
        entered.set()
        # As some client libraries do: the cancellation turned into nothing.
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(0.2)

    running = Loop("stubborn", stubborn, 0.01, stop_timeout=5.0)
    await running.start()
    await asyncio.wait_for(entered.wait(), 5)
    await asyncio.wait_for(running.stop(), 5)
    assert not running.running


async def test_wait_first_waits_one_interval_before_the_first_step() -> None:
    stepped = asyncio.Event()

    async def step() -> None:
        stepped.set()

    running = every(60.0, step, name="later", wait_first=True)
    await running.start()
    await asyncio.sleep(0)  # let the task run up to its first wait
    assert not stepped.is_set()
    await running.stop()


async def test_stop_before_start_and_twice_is_harmless() -> None:
    async def step() -> None:
        return None

    running = every(0.01, step, name="idle")
    await running.stop()
    await running.start()
    await running.stop()
    await running.stop()
