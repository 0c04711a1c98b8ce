"""The shared table writers (chuishao.common.tabular): text a spreadsheet would run as a
formula stays text, and an abandoned write-only workbook leaves no temporary file."""

import io
import os
from datetime import datetime

import openpyxl  # type: ignore[import-untyped]

from chuishao.common.tabular import (
    PERCENT,
    Column,
    CsvLines,
    append_rows,
    csv_cell,
    csv_cells,
    discard,
    header_row,
    saved,
    write_only_workbook,
)

COLUMNS: list[Column[dict[str, object]]] = [
    Column("文字", lambda row: row["text"]),
    Column("比例", lambda row: row["rate"], PERCENT),
    Column("时间", lambda row: row["at"]),
]
ROW: dict[str, object] = {"text": '=HYPERLINK("http://x")', "rate": 0.125, "at": None}


def test_csv_cells_keep_formulas_as_text_and_format_numbers() -> None:
    assert csv_cells(COLUMNS, ROW) == ['\'=HYPERLINK("http://x")', "12.50%", ""]
    assert [csv_cell(v) for v in ("-1", "+86", "@a", "和园", -3)] == [
        "'-1",
        "'+86",
        "'@a",
        "和园",
        "-3",
    ]
    assert csv_cell(datetime(2026, 1, 5, 9, 0)) == "2026-01-05 09:00:00"
    lines = CsvLines()
    assert lines.encode([["编号"]]).decode("utf-8") == "\ufeff编号\r\n"
    assert lines.encode([["a,b"]]).decode("utf-8") == '"a,b"\r\n'  # the BOM once


def test_a_workbook_writes_text_as_text_and_discard_leaves_no_file() -> None:
    workbook = write_only_workbook()
    sheet = workbook.create_sheet("表")
    header_row(sheet, (c.header for c in COLUMNS))
    append_rows(sheet, COLUMNS, [ROW])
    with saved(workbook) as file:
        read = openpyxl.load_workbook(io.BytesIO(file.read())).active
    assert read.freeze_panes == "A2"
    assert (read["A2"].data_type, read["A2"].value) == ("s", ROW["text"])
    assert read["B2"].number_format == PERCENT

    abandoned = write_only_workbook()
    sheet = abandoned.create_sheet("表")
    header_row(sheet, ["编号"])
    append_rows(sheet, COLUMNS, [ROW])
    path = sheet._writer.out
    assert os.path.exists(path)
    discard(abandoned)
    assert not os.path.exists(path)
