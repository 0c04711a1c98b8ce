"""The requests notify answers for other services (`internal.notify.*`: a one-time code, a
hotspot warning by SMS). Services only make them (units may never publish internal.>),
and each is answered only on the caller's own inbox — written once here for all of them."""

from collections.abc import Awaitable, Callable
from typing import Any

from faststream.nats import NatsBroker

from chuishao.common.broker import answers_failures, current_message
from chuishao.common.replies import withhold_reply

Handler = Callable[[bytes], Awaitable[dict[str, Any]]]


def answer_services(broker: NatsBroker, subject: str, handle: Handler) -> None:
    """Answer `subject` (in notify's queue group) with `handle(body)`; a reply-to that is
    not an inbox gets nothing, and a failure is answered, not dropped."""

    @broker.subscriber(subject, queue="notify")
    @answers_failures
    async def on_request() -> dict[str, Any]:
        message = current_message(broker)
        if withhold_reply(message):
            return {}
        return await handle(message.body)
