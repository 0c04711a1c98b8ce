"""Back-off between attempts: exponential, capped, with jitter so that many deliveries
failing together (a department's server restarting) do not all come back at once."""

import random


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
