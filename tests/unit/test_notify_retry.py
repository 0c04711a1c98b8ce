"""The retry decision of a failed delivery, without servers (chuishao.notify.retry)."""

import random

from chuishao.notify.outcomes import SendResult
from chuishao.notify.retry import RetryPolicy, after_failure

POLICY = RetryPolicy(attempts=3, base_seconds=2.0, cap_seconds=300.0)


def test_a_passing_failure_is_retried_after_a_back_off_while_attempts_remain() -> None:
    rng = random.Random(7)
    first = after_failure(SendResult.retry("HTTP 503"), 1, POLICY, rng)
    assert first.kind == "retry"
    assert 1.0 <= first.delay <= 2.0  # half to all of the first step
    second = after_failure(SendResult.retry("HTTP 503"), 2, POLICY, rng)
    assert second.kind == "retry"
    assert 2.0 <= second.delay <= 4.0


def test_the_last_attempt_is_dead_lettered_as_retries_exhausted() -> None:
    last = after_failure(
        SendResult.retry("timeout"), 3, POLICY, random.Random(1), recipient="cg", channel="webhook"
    )
    assert (last.kind, last.reason, last.error) == ("dead", "retries_exhausted", "timeout")
    assert (last.recipient, last.channel) == ("cg", "webhook")


def test_a_refusal_is_never_retried() -> None:
    refused = after_failure(SendResult.rejected("HTTP 404"), 1, POLICY, random.Random(1))
    assert (refused.kind, refused.reason) == ("dead", "rejected")


def test_a_retry_after_header_is_honoured_up_to_the_cap() -> None:
    slow = SendResult("retry", "HTTP 429", 429, retry_after=120.0)
    assert after_failure(slow, 1, POLICY, random.Random(1)).delay == 120.0
    too_slow = SendResult("retry", "HTTP 429", 429, retry_after=10_000.0)
    assert after_failure(too_slow, 1, POLICY, random.Random(1)).delay == 300.0
