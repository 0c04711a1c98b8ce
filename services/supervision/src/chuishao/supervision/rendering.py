"""Server-rendered HTML (Jinja2): the page, and the board fragment the live stream sends."""

from collections.abc import Callable, Iterable
from datetime import datetime, tzinfo

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from chuishao.common.place_names import PlaceName
from chuishao.supervision import charts, districtmap
from chuishao.supervision.assessment import RankedRow
from chuishao.supervision.board import Board
from chuishao.supervision.rates import DEFINITIONS
from chuishao.supervision.report import (
    OTHER_DEFINITIONS,
    RATE_DEFINITIONS,
    REPORT_COUNTS,
    REPORT_RATES,
    TOTAL_RATES,
    MonthlyReport,
)

STATE_NAMES = {
    "submitted": "已受理",
    "manual_dispatch": "待人工派单",
    "dispatched": "已派单",
    "in_progress": "处置中",
    "awaiting_resident": "待居民配合",
    "resolved": "已办结",
    "closed": "已结案",
}
WHISTLE_NAMES = {"daily": "日常哨", "coordination": "协同哨", "emergency": "应急哨"}
LEVEL_NAMES = {"community": "社区", "street": "街道", "district": "区", "city": "市"}


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def signed(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "—"
    return f"{value:+.{digits}f}" if value else f"{0:.{digits}f}"


def movement(row: RankedRow) -> str:
    """↑2, ↓1, — (same place), 新 (not ranked the month before), blank (not ranked now)."""
    if row.rank is None:
        return ""
    value = row.rank_change
    if value is None:
        return "新"
    if value > 0:
        return f"↑{value}"
    if value < 0:
        return f"↓{-value}"
    return "—"


def hours(value: float | None) -> str:
    """平均办理时长 on the page: 5.3, or — when no ticket was resolved."""
    return "—" if value is None else f"{value:.1f}"


def clock_offset(seconds: float) -> str:
    """The shared clock's time-travel offset, for people: 拨快 52 小时."""
    ahead = seconds >= 0
    minutes = round(abs(seconds) / 60)
    hours, minutes = divmod(minutes, 60)
    amount = f"{hours} 小时" + (f" {minutes} 分钟" if minutes else "")
    return f"{'拨快' if ahead else '拨慢'} {amount}"


def duration(seconds: int) -> str:
    hours, rest = divmod(max(seconds, 0), 3600)
    if hours >= 48:
        return f"{hours // 24} d {hours % 24} h"
    return f"{hours} h {rest // 60:02d} m"


class Renderer:
    def __init__(self, zone: tzinfo, places: Callable[[], Iterable[PlaceName]] = tuple) -> None:
        self.zone = zone
        # Where the console is (settings.supervision_console_url): 每月一题 rows link to its
        # proactive-ticket form. Empty: no link.
        self.console_url = ""
        self.places = places  # the directory's outlines, for the board's map
        self.env = Environment(
            loader=PackageLoader("chuishao.supervision", "templates"),
            autoescape=select_autoescape(["html"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters.update(
            percent=percent,
            signed=signed,
            duration=duration,
            clock_offset=clock_offset,
            local=self.local_time,
            state_name=lambda s: STATE_NAMES.get(s, s),
            whistle_name=lambda w: WHISTLE_NAMES.get(w, w),
            level_name=lambda level: LEVEL_NAMES.get(level, level or "—"),
        )

    def local_time(self, moment: datetime, fmt: str = "%m-%d %H:%M") -> str:
        return moment.astimezone(self.zone).strftime(fmt)

    def board(self, board: Board) -> str:
        return self.env.get_template("board.html").render(
            board=board,
            district_map=Markup(districtmap.draw(self.places(), board)),  # noqa: S704 (escaped in svgmap)
            legend=districtmap.legend(),
            movement=movement,
        )

    def page(self, board: Board, street: str | None, refresh_seconds: float) -> str:
        return self.env.get_template("page.html").render(
            board=board,
            street=street or "",
            fragment=self.board(board),
            month=self.local_time(board.as_of, "%Y-%m"),
            refresh_ms=round(refresh_seconds * 1000),
        )

    def report(self, report: MonthlyReport, street: str | None = None) -> str:
        drawn: dict[str, str] = {}
        if not report.empty:
            drawn["trend"] = charts.trend_chart(report.trend, report.scope)
            if report.streets:
                drawn["streets"] = charts.streets_chart(
                    [(row.name, row.rates) for row in report.streets]
                )
            if report.categories:
                drawn["categories"] = charts.categories_chart(
                    report.categories, report.category_names
                )
        return self.env.get_template("report.html").render(
            report=report,
            street=street or "",
            charts=drawn,
            rates=REPORT_RATES,
            total_rates=TOTAL_RATES,
            counts=REPORT_COUNTS,
            rate_definitions=RATE_DEFINITIONS,
            hours=hours,
            console_url=self.console_url,
            definitions=DEFINITIONS,
            other_definitions=OTHER_DEFINITIONS,
            movement=movement,
        )

    def login(self, message: str = "") -> str:
        return self.env.get_template("login.html").render(message=message)
