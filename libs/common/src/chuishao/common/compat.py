"""Workarounds for upstream bugs, each with its reason and the way out.

nats-py ≥ 2.15 (nats-io/nats.py#934) can raise a bare `asyncio.TimeoutError` from
`PullSubscription.fetch` when the lingering pull request's deadline has already passed.
FastStream's pull loop only expects `nats.errors.TimeoutError` for "no messages yet", so
the bare one kills the loop (its supervisor restarts it, logging an error each time).
Converting the exception restores the documented contract. Remove once nats-py raises
`nats.errors.TimeoutError` there.
"""

import functools
from typing import Any

import nats.errors
from nats.js.client import JetStreamContext

_fetch = JetStreamContext.PullSubscription.fetch


@functools.wraps(_fetch)
async def _fetch_with_nats_timeout(self: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return await _fetch(self, *args, **kwargs)
    except nats.errors.TimeoutError:
        raise
    except TimeoutError as error:
        raise nats.errors.TimeoutError from error


def apply() -> None:
    JetStreamContext.PullSubscription.fetch = _fetch_with_nats_timeout  # type: ignore[method-assign]
