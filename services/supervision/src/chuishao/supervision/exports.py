"""The monthly report as files: .xlsx (one sheet per level, real numbers with percentage
formats, a frozen header row) and .csv (UTF-8 with a BOM, so Excel reads the Chinese).
Both are written row by row: the workbook in openpyxl's write-only mode into a spooled
temporary file, the CSV as a generator, so 5,000 units take little memory."""

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from tempfile import SpooledTemporaryFile
from typing import IO, Any

from openpyxl import Workbook  # type: ignore[import-untyped]
from openpyxl.cell import WriteOnlyCell  # type: ignore[import-untyped]
from openpyxl.styles import Font  # type: ignore[import-untyped]

from chuishao.supervision.assessment import RankedRow
from chuishao.supervision.report import (
    RATE_DEFINITIONS,
    REPORT_COUNTS,
    REPORT_RATES,
    MonthlyReport,
)

PERCENT = "0.0%"
SCORE = "0.00"
SPOOL_BYTES = 4 * 1024 * 1024  # beyond this the workbook goes to disk
CHUNK = 64 * 1024
BOM = "\ufeff"


@dataclass(frozen=True)
class Column:
    header: str
    value: Callable[[RankedRow], Any]
    number_format: str | None = None


def _rate(name: str) -> Callable[[RankedRow], float | None]:
    return lambda row: getattr(row.rates, name)


def _count(name: str) -> Callable[[RankedRow], int]:
    return lambda row: row.rates.count(name)


COLUMNS: list[Column] = [
    Column("名次", lambda row: row.rank),
    Column("名次变化", lambda row: row.rank_change),
    Column("编号", lambda row: row.id),
    Column("名称", lambda row: row.name),
    Column("综合得分", lambda row: row.score, SCORE),
    Column("上月名次", lambda row: row.previous_rank),
    Column("上月得分", lambda row: row.previous_score, SCORE),
    Column("得分变化", lambda row: row.score_change, SCORE),
    *(Column(RATE_DEFINITIONS[name].label, _rate(name), PERCENT) for name in REPORT_RATES),
    *(Column(header, _count(name)) for name, header in REPORT_COUNTS.items()),
]
LEVELS = {"units": "单位", "streets": "街道"}


def _levels(report: MonthlyReport) -> dict[str, list[RankedRow]]:
    return {"units": report.units, "streets": report.streets}


def write_xlsx(report: MonthlyReport, out: IO[bytes]) -> None:
    workbook = Workbook(write_only=True)
    for level, rows in _levels(report).items():
        sheet = workbook.create_sheet(f"{LEVELS[level]} {report.month}")
        sheet.freeze_panes = "A2"
        header = []
        for column in COLUMNS:
            cell = WriteOnlyCell(sheet, value=column.header)
            cell.font = Font(bold=True)
            header.append(cell)
        sheet.append(header)
        for row in rows:
            cells = []
            for column in COLUMNS:
                cell = WriteOnlyCell(sheet, value=column.value(row))
                if column.number_format:
                    cell.number_format = column.number_format
                cells.append(cell)
            sheet.append(cells)
    workbook.save(out)


def xlsx_file(report: MonthlyReport) -> IO[bytes]:
    """The workbook, rewound, in a spooled temporary file (the caller closes it)."""
    out: IO[bytes] = SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115
    write_xlsx(report, out)
    out.seek(0)
    return out


def file_chunks(file: IO[bytes]) -> Iterator[bytes]:
    try:
        while chunk := file.read(CHUNK):
            yield chunk
    finally:
        file.close()


def _csv_value(value: Any, number_format: str | None) -> str:
    if value is None:
        return ""
    if number_format == PERCENT:
        return f"{value * 100:.2f}%"
    return str(value)


def csv_lines(report: MonthlyReport) -> Iterable[bytes]:
    """The CSV, a line at a time: both levels, told apart by the first column."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def take() -> bytes:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text.encode("utf-8")

    buffer.write(BOM)
    writer.writerow(["层级", "月份", *(column.header for column in COLUMNS)])
    yield take()
    for level, rows in _levels(report).items():
        for row in rows:
            values = [_csv_value(c.value(row), c.number_format) for c in COLUMNS]
            writer.writerow([LEVELS[level], report.month, *values])
            yield take()
