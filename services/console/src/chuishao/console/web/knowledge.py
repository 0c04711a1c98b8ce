"""The knowledge base in the console: admins keep it, operators answer from it.

    GET  /admin/knowledge                 the entries, and a form for a new one
    GET  /admin/knowledge/<id>            one entry: edit, retire, its versions
    POST /admin/knowledge                 save (a new entry, or the next version)
    POST /hotline/answers                 直接答复: record the call, closed at intake

An answer given on a call goes to intake as a report with `answered` (the entry, its
version and the words said): intake records it and closes it at once, the router never
routes it, and supervision counts it apart (直接答复率).
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from nats.js import JetStreamContext
from nats.js.errors import KeyWrongLastSequenceError
from pydantic import ValidationError

from chuishao.console import knowledge
from chuishao.console.audit import audit
from chuishao.console.auth import check_csrf, console_of
from chuishao.console.intake_client import IntakeError
from chuishao.console.web import templates
from chuishao.console.web.admin import Admin
from chuishao.console.web.hotline import Operator, file_for_caller

router = APIRouter()
CSRF = [Depends(check_csrf)]
# Where an enquiry answered on the phone is "placed" when the caller named no place.
NO_PLACE = "12345来电咨询（无具体地点）"


def _js(request: Request) -> JetStreamContext:
    return console_of(request).broker.connection.jetstream()


async def _page(
    request: Request,
    person: Admin,
    entry_id: str | None = None,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    console = console_of(request)
    entry = console.knowledge.get(entry_id) if entry_id else None
    context = {
        # Live entries by category and question, retired ones after them.
        "entries": sorted(
            console.knowledge.all(), key=lambda e: (e.retired, e.category or "", e.question)
        ),
        "entry": entry,
        "versions": await knowledge.versions(_js(request), entry_id) if entry_id else [],
        "categories": sorted(console.catalogue.all(), key=lambda c: (c.group, c.name)),
        "category_name": console.category_name,
        "error": error,
        "saved": request.query_params.get("saved", ""),
    }
    return templates.TemplateResponse(request, "knowledge.html", context, status_code=status_code)


@router.get("/admin/knowledge")
async def entries(request: Request, person: Admin) -> Response:
    return await _page(request, person)


@router.get("/admin/knowledge/{entry_id}")
async def entry(request: Request, entry_id: str, person: Admin) -> Response:
    if console_of(request).knowledge.get(entry_id) is None:
        raise IntakeError(404, "not_found", "没有这条知识库条目")
    return await _page(request, person, entry_id)


@router.post("/admin/knowledge", dependencies=CSRF)
async def save(
    request: Request,
    person: Admin,
    question: Annotated[str, Form(max_length=200)] = "",
    answer: Annotated[str, Form(max_length=2000)] = "",
    category: Annotated[str, Form(max_length=64)] = "",
    entry_id: Annotated[str, Form(max_length=64)] = "",
    retired: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    console = console_of(request)
    if entry_id and console.knowledge.get(entry_id) is None:
        raise IntakeError(404, "not_found", "没有这条知识库条目")
    try:
        saved = await knowledge.save(
            _js(request),
            entry_id=entry_id or None,
            category=category if console.catalogue.get(category) else None,
            question=question.strip(),
            answer=answer.strip(),
            by=person.username,
            at=console.clock.now(),
            retired=bool(retired),
        )
    except ValidationError:
        return await _page(
            request,
            person,
            entry_id or None,
            error="请填写问题（200字以内）和答复（2000字以内）",
            status_code=422,
        )
    except KeyWrongLastSequenceError:
        return await _page(
            request,
            person,
            entry_id or None,
            error="这条目刚被别人修改过，请看最新版本后再保存",
            status_code=409,
        )
    audit(person, "knowledge_saved", entry=saved.entry_id, version=saved.version)
    return RedirectResponse(
        f"/admin/knowledge/{saved.entry_id}?saved={saved.version}", status_code=303
    )


@router.post("/hotline/answers", dependencies=CSRF)
async def answer_directly(
    request: Request,
    person: Operator,
    entry_id: Annotated[str, Form(max_length=64)],
    description: Annotated[str, Form(max_length=4000)] = "",
    name: Annotated[str, Form(max_length=64)] = "",
    phone: Annotated[str, Form(max_length=32)] = "",
    address: Annotated[str, Form(max_length=500)] = "",
    idempotency_key: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    console = console_of(request)
    found = console.knowledge.get(entry_id)
    if found is None or found.retired:
        raise IntakeError(404, "not_found", "这条知识库条目不存在或已停用，请重新查找")
    report: dict[str, Any] = {
        "description": description.strip() or found.question,
        "location": {"address": address.strip() or NO_PLACE},
        "channel": "hotline_12345",
        "answered": {"entry_id": found.entry_id, "version": found.version, "answer": found.answer},
    }
    if found.category:
        report["category"] = found.category
    ticket_id = await file_for_caller(console, person, report, name, phone, idempotency_key)
    audit(
        person, "answered_directly", ticket=ticket_id, entry=found.entry_id, version=found.version
    )
    return RedirectResponse(f"/hotline?done=answered&ticket={ticket_id}#file", status_code=303)
