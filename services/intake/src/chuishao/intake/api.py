"""The native HTTP API (JSON). Handlers parse, call the use case, shape the answer."""

from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Request, Response, status
from fastapi.responses import JSONResponse
from nats.errors import Error as NatsError
from redis.exceptions import ConnectionError as RedisConnectionError

from chuishao.common.commands import SubmitReport
from chuishao.intake.service import CatalogueNotLoaded, Intake, UnknownCategory
from chuishao.intake.views import SubmitAccepted, TicketView

router = APIRouter(prefix="/api/v1", tags=["tickets"])


def intake_of(request: Request) -> Intake:
    intake: Intake = request.app.state.intake
    return intake


def field_error(field: str, message: str, kind: str) -> JSONResponse:
    """The same shape FastAPI gives schema errors, so clients parse one format."""
    return JSONResponse(
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        content={"detail": [{"loc": ["body", field], "msg": message, "type": kind}]},
    )


@router.post(
    "/reports",
    status_code=status.HTTP_201_CREATED,
    response_model=SubmitAccepted,
    responses={
        200: {"model": SubmitAccepted, "description": "A repeat (same Idempotency-Key)"},
        503: {"description": "Not confirmed durable; retry with the same key"},
    },
)
async def submit_report(
    command: SubmitReport,
    request: Request,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
) -> SubmitAccepted | JSONResponse:
    """File a report. A 201 means it is stored durably in JetStream."""
    intake = intake_of(request)
    try:
        result = await intake.submit(command, idempotency_key)
    except UnknownCategory as error:
        return field_error("category", f"unknown category {error}", "unknown_category")
    except CatalogueNotLoaded as error:
        raise HTTPException(503, str(error), headers={"Retry-After": "2"}) from error
    except (TimeoutError, ConnectionError, NatsError, RedisConnectionError) as error:
        raise HTTPException(
            503,
            "the report could not be confirmed durable; retry with the same Idempotency-Key",
            headers={"Retry-After": "5"},
        ) from error
    url = str(request.url_for("get_ticket", ticket_id=result.ticket_id))
    response.headers["Location"] = url
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return SubmitAccepted(ticket_id=result.ticket_id, status=result.status, url=url)


@router.get("/tickets/{ticket_id}", response_model=TicketView)
async def get_ticket(ticket_id: str, request: Request) -> TicketView:
    record = await intake_of(request).store.get(ticket_id)
    if record is None:
        raise HTTPException(404, f"no ticket {ticket_id}")
    return TicketView.of(record)
