"""The router's answers to the forms' questions while someone types (`internal.router.*`):
one request shape each, answered from the current snapshot by any replica (one queue
group), only on the caller's own inbox, with the one error shape for a bad request."""

from collections.abc import Callable
from typing import Any, TypeVar

from faststream.nats import NatsBroker
from pydantic import BaseModel, ValidationError

from chuishao.common.broker import answer_requests
from chuishao.common.errors import invalid_request, nats_error_reply
from chuishao.router.snapshot import Snapshot

Query = TypeVar("Query", bound=BaseModel)


def handle(
    body: bytes,
    snap: Snapshot,
    query_type: type[Query],
    answer: Callable[[Query, Snapshot], BaseModel],
) -> dict[str, Any]:
    """The reply to one request: the answer, or the one error shape (`ok: false`)."""
    try:
        query = query_type.model_validate_json(body or b"{}")
    except ValidationError as error:
        return nats_error_reply(invalid_request(error))
    return answer(query, snap).model_dump(mode="json")


def register(
    broker: NatsBroker,
    subject: str,
    query_type: type[Query],
    answer: Callable[[Query, Snapshot], BaseModel],
    snapshot: Callable[[], Snapshot],
) -> None:
    async def reply(body: bytes) -> dict[str, Any]:
        return handle(body, snapshot(), query_type, answer)

    answer_requests(broker, subject, "router", reply, title=f"router answers {subject}")
