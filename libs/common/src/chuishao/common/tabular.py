"""Tables as files people open in Excel, written row by row so that memory stays bounded
however many rows there are: CSV as UTF-8 with a BOM (without it Excel reads the Chinese
as mojibake), and .xlsx in openpyxl's write-only mode (rows go to a temporary file as
they come) with a bold, frozen header row and number formats on real numbers and times.
Used by supervision's monthly report and intake's ticket exports."""

import csv
import io
import os
import unicodedata
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass
from datetime import datetime
from tempfile import SpooledTemporaryFile
from typing import IO, Any, Generic, TypeVar

from openpyxl import Workbook  # type: ignore[import-untyped]
from openpyxl.cell import WriteOnlyCell  # type: ignore[import-untyped]
from openpyxl.styles import Font  # type: ignore[import-untyped]

Row = TypeVar("Row")

PERCENT = "0.0%"
SCORE = "0.00"
DATETIME = "yyyy-mm-dd hh:mm:ss"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_TYPE = "text/csv; charset=utf-8"
SPOOL_BYTES = 4 * 1024 * 1024  # beyond this a workbook goes to disk
CHUNK = 64 * 1024
BOM = "\ufeff"


@dataclass(frozen=True)
class Column(Generic[Row]):
    """One column: its header and how a row gives its cell (None: an empty cell)."""

    header: str
    value: Callable[[Row], Any]
    number_format: str | None = None


# Text a spreadsheet would take for a formula: a resident's "=HYPERLINK(…)" must stay text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def formula_like(text: str) -> bool:
    """Whether a spreadsheet could read the text as a formula: it starts with one of
    FORMULA_STARTS, or does so once leading spaces are trimmed (LibreOffice's "trim
    spaces" on import; U+3000 and NBSP too) or its first character is read as its ASCII
    twin (＝ ＋ － ＠ and ﹦: full-width forms East Asian spreadsheets take for = + - @)."""
    if text.startswith(FORMULA_STARTS):
        return True
    head = text.lstrip()
    return bool(head) and unicodedata.normalize("NFKC", head[0]).startswith(FORMULA_STARTS)


def csv_cell(value: Any, number_format: str | None = None) -> str:
    """A cell as CSV text: a percentage as 12.34%, a time as 2026-01-05 09:00:00, text
    that would start a formula behind a quote (') as spreadsheets take it (OWASP)."""
    if value is None:
        return ""
    if number_format == PERCENT:
        return f"{value * 100:.2f}%"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, str) and formula_like(value):
        return "'" + value
    return str(value)


class CsvLines:
    """Rows to UTF-8 bytes, as many at a time as the caller hands over; the first bytes
    out carry the BOM."""

    def __init__(self) -> None:
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator="\r\n")
        self._buffer.write(BOM)

    def encode(self, rows: Iterable[Iterable[str]]) -> bytes:
        self._writer.writerows(rows)
        text = self._buffer.getvalue()
        self._buffer.seek(0)
        self._buffer.truncate()
        return text.encode("utf-8")


def csv_cells(columns: Iterable[Column[Row]], item: Row) -> list[str]:
    """The item's row under `columns`, as CSV text."""
    return [csv_cell(column.value(item), column.number_format) for column in columns]


def header_row(sheet: Any, headers: Iterable[str]) -> None:
    """The bold header row of a write-only sheet, frozen so it stays in view (call it
    before any other row)."""
    sheet.freeze_panes = "A2"
    cells = []
    for header in headers:
        cell = WriteOnlyCell(sheet, value=header)
        cell.font = Font(bold=True)
        cells.append(cell)
    sheet.append(cells)


def append_rows(sheet: Any, columns: Iterable[Column[Row]], items: Iterable[Row]) -> None:
    """The items' rows under `columns`, with their number formats."""
    fixed = list(columns)
    for item in items:
        cells = []
        for column in fixed:
            value = column.value(item)
            cell = WriteOnlyCell(sheet, value=value)
            if isinstance(value, str):
                cell.data_type = "s"  # openpyxl writes "=…" as a formula otherwise
            if column.number_format:
                cell.number_format = column.number_format
            cells.append(cell)
        sheet.append(cells)


def write_only_workbook() -> Any:
    return Workbook(write_only=True)


def saved(workbook: Any) -> IO[bytes]:
    """The workbook saved, rewound, in a spooled temporary file (the caller closes it,
    e.g. through `file_chunks`)."""
    out: IO[bytes] = SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115
    workbook.save(out)
    out.seek(0)
    return out


def discard(workbook: Any) -> None:
    """Remove the temporary files of a write-only workbook that will not be saved (its
    download was abandoned); saving removes them, else they stay until the process ends."""
    for sheet in workbook.worksheets:
        if not sheet.closed:
            sheet.close()  # ends its row writer, which would write to a removed file later
        writer = sheet._writer  # openpyxl's WorksheetWriter: its temporary file
        if isinstance(writer.out, str) and os.path.exists(writer.out):
            writer.cleanup()


def file_chunks(file: IO[bytes]) -> Generator[bytes, None, None]:
    """The file in CHUNK-sized pieces for a streamed response; closed at the end."""
    try:
        while chunk := file.read(CHUNK):
            yield chunk
    finally:
        file.close()


def attachment(filename: str) -> dict[str, str]:
    """The header that makes a browser save the answer as `filename` (ASCII)."""
    return {"Content-Disposition": f'attachment; filename="{filename}"'}
