"""Hotspot warnings (预警) arriving live on the command centre's page.

Supervision publishes `HotspotDetected` on `ticket.hotspot.<ticket_id>` (TICKETS stream)
once per grid × category × window. Each open page reads them through its own ordered,
ephemeral JetStream consumer: the last day's warnings first (so a centre that opens its
page later still sees the morning's), then each new one as it is stored. Only the
warnings of the person's own streets are sent (a district all of its streets', the city
every one); nothing is kept by the console.
"""

import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from urllib.parse import urlencode

import structlog
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import ConsumerConfig, DeliverPolicy
from pydantic import ValidationError

from chuishao.common import subjects
from chuishao.common.events import HotspotDetected
from chuishao.console.service import Console
from chuishao.console.web.wording import clock_time, span

log = structlog.get_logger()
STREAM = "TICKETS"
Item = dict[str, str | int]
Render = Callable[[Item], str]
Disconnected = Callable[[], Awaitable[bool]]
BACKLOG = timedelta(hours=24)  # the warnings a page opened now still shows
KEEPALIVE_SECONDS = 15.0


def hotspot_item(console: Console, warning: HotspotDetected) -> Item:
    """What the page shows of one warning, in words (the template draws it)."""
    return {
        "event_id": warning.event_id,
        "ticket_id": warning.ticket_id,
        "at": clock_time(warning.occurred_at),
        "street": console.place_name(warning.street) if warning.street else "",
        "grid": console.place_name(warning.grid_code),
        "category": console.category_name(warning.category),
        "count": warning.count,
        "window": span(warning.window_seconds),
        "threshold": warning.threshold,
        # 主动立案: the filing form, prefilled from this warning (web/proactive.py).
        "proactive": "/centre/proactive?"
        + urlencode(
            {
                "grid": warning.grid_code,
                "category": warning.category,
                "from": "hotspot",
                "count": warning.count,
                "window": warning.window_seconds,
            }
        ),
    }


def visible(warning: HotspotDetected, streets: frozenset[str] | None) -> bool:
    return streets is None or warning.street in streets


def sse(event: str, data: str) -> str:
    lines = "".join(f"data: {line}\n" for line in data.splitlines() or [""])
    return f"event: {event}\n{lines}\n"


async def hotspot_frames(
    console: Console,
    streets: frozenset[str] | None,
    render: Render,
    disconnected: Disconnected,
) -> AsyncIterator[str]:
    """SSE frames: `hotspot` (an <li> to prepend), `live` once the backlog is read, and a
    comment now and then so proxies keep the stream open."""
    js = console.broker.connection.jetstream()
    start = console.clock.now() - BACKLOG
    subscription = await js.subscribe(
        subjects.ticket_event(HotspotDetected.kind),
        stream=STREAM,
        ordered_consumer=True,
        config=ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_TIME, opt_start_time=start),
    )
    try:
        yield sse("live", json.dumps({"live": True}))
        while not await disconnected():
            try:
                message = await subscription.next_msg(timeout=KEEPALIVE_SECONDS)
            except (TimeoutError, NatsTimeout):
                yield ": keepalive\n\n"
                continue
            try:
                warning = HotspotDetected.model_validate_json(message.data)
            except ValidationError:
                continue  # not one this console understands: skip, never break the page
            if visible(warning, streets):
                yield sse("hotspot", render(hotspot_item(console, warning)))
    finally:
        with contextlib.suppress(Exception):
            await subscription.unsubscribe()
