"""The monthly report as files: .xlsx (one sheet per level and one of 每月一题, real numbers
with percentage formats, a frozen header row) and .csv (UTF-8 with a BOM, so Excel reads
the Chinese; the levels' rows, then a blank line and the 每月一题 section).
Both are written row by row: the workbook in openpyxl's write-only mode into a spooled
temporary file, the CSV as a generator, so 5,000 units take little memory."""

from collections.abc import Callable, Iterator
from typing import IO, Any

from chuishao.common.tabular import (
    BOM,
    PERCENT,
    SCORE,
    Column,
    CsvLines,
    append_rows,
    csv_cells,
    file_chunks,
    header_row,
    saved,
    write_only_workbook,
)
from chuishao.supervision.assessment import RankedRow
from chuishao.supervision.problems import ProblemRow, StreetProblems
from chuishao.supervision.report import (
    RATE_DEFINITIONS,
    REPORT_COUNTS,
    REPORT_RATES,
    MonthlyReport,
)

# BOM and file_chunks are this module's API too (web.py, the report's tests).
__all__ = ["BOM", "COLUMNS", "PROBLEM_COLUMNS", "csv_lines", "file_chunks", "xlsx_file"]


HOURS = "0.0"  # 平均办理时长, a number of hours


def _rate(name: str) -> Callable[[RankedRow], float | None]:
    return lambda row: getattr(row.rates, name)


def _count(name: str) -> Callable[[RankedRow], int]:
    return lambda row: row.rates.count(name)


COLUMNS: list[Column[RankedRow]] = [
    Column("名次", lambda row: row.rank),
    Column("名次变化", lambda row: row.rank_change),
    Column("编号", lambda row: row.id),
    Column("名称", lambda row: row.name),
    Column("综合得分", lambda row: row.score, SCORE),
    Column("上月名次", lambda row: row.previous_rank),
    Column("上月得分", lambda row: row.previous_score, SCORE),
    Column("得分变化", lambda row: row.score_change, SCORE),
    *(Column(RATE_DEFINITIONS[name].label, _rate(name), PERCENT) for name in REPORT_RATES),
    Column("平均办理时长（小时）", lambda row: row.rates.average_handling_hours, HOURS),
    *(Column(header, _count(name)) for name, header in REPORT_COUNTS.items()),
]
LEVELS = {"units": "单位", "streets": "街道"}
PROBLEMS = "每月一题"

# 每月一题: one row per street's recurring problem, as the page's table shows it.
ProblemLine = tuple[StreetProblems, ProblemRow]
PROBLEM_COLUMNS: list[Column[ProblemLine]] = [
    Column("街道编号", lambda line: line[0].street),
    Column("街道", lambda line: line[0].name),
    Column("名次", lambda line: line[1].rank),
    Column("网格编号", lambda line: line[1].grid),
    Column("网格", lambda line: line[1].grid_name),
    Column("类别编号", lambda line: line[1].category),
    Column("类别", lambda line: line[1].category_name),
    Column("反映次数", lambda line: line[1].reports),
    Column("重复反映人数", lambda line: line[1].repeat_reporters),
    Column("上月反映", lambda line: line[1].previous_reports),
    Column("环比", lambda line: line[1].change),
    Column("上月名次", lambda line: line[1].previous_rank),
]


def _problem_lines(report: MonthlyReport) -> Iterator[ProblemLine]:
    for street in report.problems:
        for row in street.rows:
            yield street, row


def _levels(report: MonthlyReport) -> dict[str, list[RankedRow]]:
    return {"units": report.units, "streets": report.streets}


def _workbook(report: MonthlyReport) -> Any:
    workbook = write_only_workbook()
    for level, rows in _levels(report).items():
        sheet = workbook.create_sheet(f"{LEVELS[level]} {report.month}")
        header_row(sheet, (column.header for column in COLUMNS))
        append_rows(sheet, COLUMNS, rows)
    sheet = workbook.create_sheet(f"{PROBLEMS} {report.month}")
    header_row(sheet, (column.header for column in PROBLEM_COLUMNS))
    append_rows(sheet, PROBLEM_COLUMNS, _problem_lines(report))
    return workbook


def xlsx_file(report: MonthlyReport) -> IO[bytes]:
    """The workbook, rewound, in a spooled temporary file (the caller closes it)."""
    return saved(_workbook(report))


def csv_lines(report: MonthlyReport) -> Iterator[bytes]:
    """The CSV, a line at a time: both levels, told apart by the first column; then, after
    a blank line, the 每月一题 section under its own header (first column 每月一题)."""
    lines = CsvLines()
    yield lines.encode([["层级", "月份", *(column.header for column in COLUMNS)]])
    for level, rows in _levels(report).items():
        for row in rows:
            yield lines.encode([[LEVELS[level], report.month, *csv_cells(COLUMNS, row)]])
    yield lines.encode([[]])
    yield lines.encode([["层级", "月份", *(column.header for column in PROBLEM_COLUMNS)]])
    for line in _problem_lines(report):
        yield lines.encode([[PROBLEMS, report.month, *csv_cells(PROBLEM_COLUMNS, line)]])
