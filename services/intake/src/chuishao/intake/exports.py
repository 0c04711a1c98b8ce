"""Tickets matching a search as a file: `GET /api/v1/tickets.csv` and `/api/v1/tickets.xlsx`.

The filters and the scope are the search's own (api.search_filters): an export holds
exactly the tickets the caller could page through, never one more. The tickets are read
EXPORT_PAGE at a time through the search's cursor and written as they come, so memory
stays bounded however many match: the CSV goes out page by page (UTF-8 with a BOM); the
workbook is written in openpyxl's write-only mode (rows go to a temporary file) and sent
once it is complete, as a zip cannot be sent before its last entry is written.

The reporter's name and number are columns only for 12345 operators, the one role that
may read reporters (callers.py), and such an export leaves an audit line naming the
operator, as every reporter read does. For everyone else the description and the
address are masked too (numbers and addressed names, common.privacy): a file travels
further than a screen.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

import structlog
from fastapi import APIRouter, Path, Request
from fastapi.responses import StreamingResponse

from chuishao.common.domain import Role
from chuishao.common.errors import ApiError
from chuishao.common.labels import CHANNEL_NAMES, RATING_NAMES, STATUS_NAMES
from chuishao.common.place_names import PlaceName
from chuishao.common.privacy import mask_text
from chuishao.common.tabular import (
    CSV_TYPE,
    DATETIME,
    XLSX_TYPE,
    Column,
    CsvLines,
    append_rows,
    attachment,
    csv_cells,
    discard,
    file_chunks,
    header_row,
    saved,
    write_only_workbook,
)
from chuishao.intake.api import AUTH_RESPONSES, UNAVAILABLE, Caller, SearchFilters, intake_of
from chuishao.intake.lifecycle import Actor
from chuishao.intake.records import Assignment, TicketRecord
from chuishao.intake.search import Filters, Page, search
from chuishao.intake.service import Intake

router = APIRouter(prefix="/api/v1", tags=["tickets"])
log = structlog.get_logger()
EXPORT_PAGE = 500  # tickets read out of Redis at a time (the search's pages are ≤ 200)
# Files are read by people in Beijing; Excel has no time zones.
ZONE = ZoneInfo("Asia/Shanghai")
PRIORITIES = {"normal": "普通", "urgent": "紧急", "emergency": "应急"}

Record = Column[TicketRecord]


def _local(moment: datetime | None) -> datetime | None:
    return moment.astimezone(ZONE).replace(tzinfo=None) if moment is not None else None


def _lead(record: TicketRecord) -> Assignment | None:
    return next((a for a in record.active_assignments if a.unit_id == record.lead_unit), None)


def _co_units(record: TicketRecord) -> str:
    lead = record.lead_unit
    return "、".join(
        dict.fromkeys(
            a.unit_name
            for a in record.active_assignments
            if a.unit_id != lead and a.role != Role.SUPERVISOR
        )
    )


class Names:
    """The names a person reads for the codes a record keeps: categories from the
    catalogue, streets, communities and grids from the router's places (the code where
    none is known)."""

    def __init__(self, intake: Intake) -> None:
        self.intake = intake

    def category(self, code: str | None) -> str:
        if code is None:
            return "未分类"
        category = self.intake.catalogue.get(code)
        return category.name if category is not None else code

    def _known(self, code: str | None) -> PlaceName | None:
        places = self.intake.places
        return places.get(code) if places is not None and code else None

    def place(self, code: str | None) -> str:
        place = self._known(code)
        return place.name if place is not None else code or ""

    def grid(self, code: str | None) -> str:
        """社区 / 网格: the grid's community and the grid."""
        grid = self._known(code)
        if grid is None:
            return code or ""
        community = self._known(grid.parent)
        return f"{community.name} / {grid.name}" if community is not None else grid.name


def columns(names: Names, with_contact: bool) -> list[Record]:
    """The export's columns; the reporter's two only `with_contact` (operators)."""
    # A resident types the address too ("…3号楼 有事打139…"): masked like the description.
    shown: Callable[[str | None], str | None] = (
        (lambda text: text) if with_contact else (lambda text: mask_text(text) if text else text)
    )
    chosen: list[Record] = [
        Column("编号", lambda r: r.ticket_id),
        Column("类别", lambda r: names.category(r.category)),
        Column("状态", lambda r: STATUS_NAMES.get(r.status, r.status)),
        Column("紧急程度", lambda r: PRIORITIES.get(r.priority, r.priority)),
        Column("渠道", lambda r: CHANNEL_NAMES.get(r.channel, r.channel)),
        Column("提交时间", lambda r: _local(r.submitted_at), DATETIME),
        Column("街道", lambda r: names.place(r.street)),
        Column("社区/网格", lambda r: names.grid(r.location.grid_code)),
        Column("地址", lambda r: shown(r.location.address)),
        Column("问题描述", lambda r: shown(r.description)),
        Column("责任单位", lambda r: lead.unit_name if (lead := _lead(r)) else None),
        Column("协办单位", _co_units),
        Column(
            "签收时间",
            lambda r: _local(lead.acknowledged_at if (lead := _lead(r)) else None),
            DATETIME,
        ),
        Column("办理时限", lambda r: _local(r.deadline), DATETIME),
        Column(
            "办结时间",
            lambda r: _local(r.resolution.resolved_at if r.resolution else None),
            DATETIME,
        ),
        Column("满意度", lambda r: RATING_NAMES.get(r.rating) if r.rating else None),
        Column("反映人数", lambda r: r.interest_count, "0"),
        Column("退单次数", lambda r: r.declines, "0"),
        Column("重办次数", lambda r: r.reopen_count, "0"),
    ]
    if with_contact:
        chosen += [
            Column("反映人", lambda r: r.reporter.name if r.reporter else None),
            Column("联系电话", lambda r: r.reporter.phone if r.reporter else None),
        ]
    return chosen


async def _pages(
    intake: Intake, filters: Filters, first: Page
) -> AsyncIterator[list[TicketRecord]]:
    """The matching tickets a page at a time, newest first, from the page already read
    (only the page at hand is held)."""
    page = first
    del first
    while True:
        yield page.items
        if page.next_cursor is None:
            return
        page = await search(
            intake.store.redis, intake.store, filters, EXPORT_PAGE, page.next_cursor
        )


class Export:
    """One export under way: its pages, its columns and its audit line."""

    def __init__(self, request: Request, actor: Actor, filters: Filters, suffix: str) -> None:
        self.intake = intake_of(request)
        self.actor = actor
        self.filters = filters
        self.with_contact = actor.kind == "operator"  # who may read reporters (callers.py)
        self.columns = columns(Names(self.intake), self.with_contact)
        today = self.intake.clock.now().astimezone(ZONE).date()
        self.filename = f"chuishao-tickets-{today.isoformat()}.{suffix}"
        self.rows = 0

    async def pages(self) -> AsyncIterator[list[TicketRecord]]:
        """Reads the first page before the answer starts, so a Redis that is down is a 503
        in the one error shape rather than a cut-off file."""
        try:
            first = await search(
                self.intake.store.redis, self.intake.store, self.filters, EXPORT_PAGE
            )
        except UNAVAILABLE as error:
            raise ApiError(
                503,
                "unavailable",
                "工单存储暂时无法访问，请稍后再导出",
                "The ticket store cannot be reached; export again later",
                headers={"Retry-After": "5"},
            ) from error
        return self._counted(_pages(self.intake, self.filters, first))

    async def _counted(
        self, pages: AsyncIterator[list[TicketRecord]]
    ) -> AsyncIterator[list[TicketRecord]]:
        complete = False
        try:
            async for page in pages:
                self.rows += len(page)
                yield page
            complete = True
        finally:
            self.audit(complete)

    def audit(self, complete: bool) -> None:
        # Who exported how many tickets: never a filter's or a row's personal data. An
        # export with the reporters' contacts names its operator, as every reporter read.
        who = self.actor.person or self.actor.id
        event, person = (
            ("reporter_contacts_exported", {"operator": who})
            if self.with_contact
            else ("tickets_exported", {"by": who})
        )
        log.info(event, **person, rows=self.rows, complete=complete, file=self.filename)


async def csv_body(
    export: Export, pages: AsyncIterator[list[TicketRecord]]
) -> AsyncIterator[bytes]:
    lines = CsvLines()
    yield lines.encode([[column.header for column in export.columns]])
    async for page in pages:
        yield lines.encode(csv_cells(export.columns, record) for record in page)


async def xlsx_body(
    export: Export, pages: AsyncIterator[list[TicketRecord]]
) -> AsyncIterator[bytes]:
    workbook = write_only_workbook()
    sheet = workbook.create_sheet("工单")
    header_row(sheet, (column.header for column in export.columns))
    saving = False
    try:
        async for page in pages:
            # openpyxl is CPU work: off the event loop, one page after the other.
            await asyncio.to_thread(append_rows, sheet, export.columns, page)
        saving = True
        file = await asyncio.to_thread(saved, workbook)
    finally:
        if not saving:
            discard(workbook)
    chunks = file_chunks(file)
    with contextlib.closing(chunks):  # closes the file if the download is abandoned
        for chunk in chunks:
            yield chunk


EXPORT_DOC = (
    "The tickets the search (`GET /api/v1/tickets`) finds with the same filters and the "
    "same scope, newest first, as a file to download; Chinese column headers, times in "
    "Beijing time. The reporter's name and number only for 12345 operators (audited)."
)


@router.get(
    "/tickets.{suffix}",
    summary="Export the search's tickets as CSV or Excel (导出)",
    responses={
        **AUTH_RESPONSES,
        200: {
            "description": EXPORT_DOC,
            "content": {CSV_TYPE.split(";")[0]: {}, XLSX_TYPE: {}},
        },
    },
    response_class=StreamingResponse,
)
async def export_tickets(
    request: Request,
    actor: Caller,
    filters: SearchFilters,
    suffix: Annotated[Literal["csv", "xlsx"], Path(description="csv or xlsx")],
) -> StreamingResponse:
    """The tickets matching the search's filters as CSV (UTF-8 with a BOM) or Excel,
    streamed: a unit its own, a street's command centre its street's, a district its
    district's, the city level and operators every ticket."""
    export = Export(request, actor, filters, suffix)
    pages = await export.pages()
    if suffix == "csv":
        body, media_type = csv_body(export, pages), CSV_TYPE
    else:
        body, media_type = xlsx_body(export, pages), XLSX_TYPE
    return StreamingResponse(body, media_type=media_type, headers=attachment(export.filename))
