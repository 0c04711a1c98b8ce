"""Whether a failed delivery is tried again, and when: a pure decision.

Back-off between attempts is exponential, capped, with jitter so that many deliveries
failing together (a department's server restarting) do not all come back at once.
"""

import random
from dataclasses import dataclass
from typing import Literal

from chuishao.notify.outcomes import SendResult


@dataclass(frozen=True)
class Decision:
    """What to do with the job's message: ack it, nack it with a delay, or dead-letter it."""

    kind: Literal["done", "retry", "dead"]
    delay: float = 0.0
    reason: str = ""
    error: str = ""
    recipient: str = ""
    channel: str = ""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int  # tries in all, the first included (CHUISHAO_DELIVERY_ATTEMPTS)
    base_seconds: float
    cap_seconds: float


def backoff_seconds(
    attempt: int, base: float, cap: float, rng: random.Random, retry_after: float | None = None
) -> float:
    """The wait after failed attempt number `attempt` (1 = the first try failed)."""
    ceiling = min(cap, base * 2 ** (attempt - 1))
    # "Equal jitter": at least half the exponential step, so retries still spread out.
    delay = ceiling / 2 + rng.uniform(0, ceiling / 2)
    if retry_after is not None:
        delay = max(delay, min(retry_after, cap))
    return float(delay)


def after_failure(
    outcome: SendResult,
    attempt: int,
    policy: RetryPolicy,
    rng: random.Random,
    *,
    recipient: str = "",
    channel: str = "",
) -> Decision:
    """Attempt number `attempt` (1 = the first) did not deliver: try again after a back-off
    while the failure is passing and attempts remain, else dead-letter it with the reason."""
    if outcome.kind == "retry" and attempt < policy.attempts:
        delay = backoff_seconds(
            attempt, policy.base_seconds, policy.cap_seconds, rng, outcome.retry_after
        )
        return Decision("retry", delay=delay, error=outcome.detail)
    return Decision(
        "dead",
        reason="rejected" if outcome.kind == "rejected" else "retries_exhausted",
        error=outcome.detail,
        recipient=recipient,
        channel=channel,
    )
