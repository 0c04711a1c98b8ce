"""The category suggestion while a report is typed, and where its address is placed, for
the forms' script:

    POST /r/triage   {"text": …}     (X-CSRF-Token: the form's token)
    POST /r/place    {"address": …}  (the same token, the same rate limit)

The resident's report form (/r) and the operator's filing form (/hotline) call it, with a
pause after the last keystroke; the router answers (`internal.router.triage`: triage's
best three categories and the danger detector's verdict) and the page offers them, one
tap to pick. A POST, so the words never stand in a URL an access log keeps; nothing is
stored or logged. Without the script the forms work as before (the system judges).
The address is placed the same way (`internal.router.place`: the street, community and
grid the directory's names and aliases find in it), shown as one line under the input.
"""

import json
from typing import Any, TypeVar

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from nats.errors import Error as NatsError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chuishao.common import subjects
from chuishao.common.errors import ApiError
from chuishao.common.queries import TRIAGE_MAX_CHARS, PlaceAnswer, TriageAnswer
from chuishao.console.auth import check_csrf, console_of
from chuishao.console.service import Console
from chuishao.console.web.login import client_address

Answer = TypeVar("Answer", bound=BaseModel)
router = APIRouter(prefix="/r")
TIMEOUT = 2.0  # a suggestion late is a suggestion useless: the form goes on without it
MIN_CHARS = 4  # fewer words say nothing about the category
# Each suggestion costs the router a classification: an address that asks more often
# than a fast typist could (a pause of 0.4 s between asks) is told to wait.
PER_MINUTE = 60


class TypedText(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The forms' own limit; the router reads the first TRIAGE_MAX_CHARS of it.
    text: str = Field(max_length=4000)


def _unavailable() -> ApiError:
    return ApiError(
        503,
        "triage_unavailable",
        "暂时无法给出类别建议，请直接选择类别或留给系统判断",
        "No suggestion now; pick a category or leave it to the system",
    )


async def ask(
    console: Console, subject: str, query: dict[str, Any], model: type[Answer], fail: ApiError
) -> Answer:
    """The router's answer to one query on `subject`, as `model`; `fail` when it does not
    answer in time or answers with the error shape."""
    body = json.dumps(query, ensure_ascii=False).encode()
    try:
        reply = await console.broker.connection.request(subject, body, timeout=TIMEOUT)
        raw: dict[str, Any] = json.loads(reply.data or b"{}")
        if raw.get("ok") is False:
            raise fail
        return model.model_validate(raw)
    except (NatsError, TimeoutError, ValueError, ValidationError) as error:
        raise fail from error


async def ask_router(console: Console, text: str) -> TriageAnswer:
    """The router's answer for these words (ApiError 503 when it does not answer)."""
    query = {"text": text[:TRIAGE_MAX_CHARS]}
    return await ask(console, subjects.ROUTER_TRIAGE, query, TriageAnswer, _unavailable())


def shown(console: Console, answer: TriageAnswer) -> dict[str, Any]:
    """What the page shows: category names, whole percentages, the emergency line."""
    suggestions = []
    for s in answer.suggestions:
        category = console.catalogue.get(s.category)
        if category is None:  # a category the forms cannot offer
            continue
        suggestions.append(
            {
                "category": s.category,
                "name": category.name,
                "percent": round(s.confidence * 100),
            }
        )
    if answer.life_at_risk:  # the line in bold, then what to do meanwhile
        warning = f"如有生命危险请立即拨打 {'/'.join(answer.call)}"
        advice = answer.advice_zh
    else:  # a danger, no life said to be at risk: the detector's own words
        warning, advice = None, answer.message_zh if answer.danger else None
    return {
        "suggestions": suggestions,
        "danger": answer.danger,
        "life_at_risk": answer.life_at_risk,
        "warning": warning,
        "advice": advice,
    }


async def within_rate(console: Console, address: str) -> bool:
    """A fixed window per address and minute, counted in Redis (every console instance
    shares it); the first ask of a window sets its expiry."""
    key = f"console:triage:rate:{address}:{int(console.clock.now().timestamp() // 60)}"
    async with console.redis.pipeline(transaction=True) as pipe:
        pipe.incr(key)
        pipe.expire(key, 120)
        count, _ = await pipe.execute()
    return int(count) <= PER_MINUTE


async def keep_to_rate(request: Request, english: str) -> None:
    """429 past the address's budget for this minute (within_rate)."""
    if not await within_rate(console_of(request), client_address(request)):
        raise ApiError(429, "too_many_requests", "请求过于频繁，请稍后再试", english)


@router.post("/triage", dependencies=[Depends(check_csrf)])
async def suggest(request: Request, typed: TypedText) -> JSONResponse:
    console = console_of(request)
    await keep_to_rate(request, "Too many suggestions asked; wait a minute")
    text = typed.text.strip()
    if len(text) < MIN_CHARS:
        nothing = {"suggestions": [], "danger": False, "life_at_risk": False}
        return JSONResponse(nothing | {"warning": None, "advice": None})
    return JSONResponse(shown(console, await ask_router(console, text)))


class TypedAddress(BaseModel):
    model_config = ConfigDict(extra="forbid")

    address: str = Field(max_length=500)  # the forms' own limit, and the router's


def _unplaced() -> ApiError:
    return ApiError(
        503,
        "place_unavailable",
        "暂时无法按地址定位，提交后由系统或指挥中心判断",
        "No place for the address now; the system or the command centre will place it",
    )


async def ask_place(console: Console, address: str) -> PlaceAnswer:
    """The router's place for this address (ApiError 503 when it does not answer)."""
    query = {"address": address}
    return await ask(console, subjects.ROUTER_PLACE, query, PlaceAnswer, _unplaced())


def place_label(console: Console, answer: PlaceAnswer) -> str | None:
    """青石街道 · 和园社区 · 和园南网格: the levels the address reached, by name; the
    district's name when it named nothing smaller."""
    if not answer.found:
        return None
    levels = [code for code in (answer.street, answer.community, answer.grid) if code]
    if not levels and answer.district:
        levels = [answer.district]
    return " · ".join(console.place_name(code) for code in levels) or None


@router.post("/place", dependencies=[Depends(check_csrf)])
async def place(request: Request, typed: TypedAddress) -> JSONResponse:
    console = console_of(request)
    # The same budget as the suggestion: one form, one typist, one limit.
    await keep_to_rate(request, "Too many look-ups asked; wait a minute")
    address = typed.address.strip()
    if not address:
        return JSONResponse({"found": False, "label": None})
    label = place_label(console, await ask_place(console, address))
    return JSONResponse({"found": label is not None, "label": label})
