"""What the newcomer watches: a live table in the terminal (rich), or plain lines."""

from collections import deque
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

BEIJING = ZoneInfo("Asia/Shanghai")


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def stack_time(board: dict[str, Any]) -> str:
    moment = datetime.fromisoformat(board["as_of"]).astimezone(BEIJING)
    return moment.strftime("%a %m-%d %H:%M")


class PlainScreen:
    """One line per happening (CI logs, tests, a pipe)."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(highlight=False)
        self.lines: list[str] = []
        self.boards: list[dict[str, Any]] = []

    def say(self, hour: int, text: str) -> None:
        line = f"+{hour:02d}h  {text}"
        self.lines.append(line)
        self.console.print(line, soft_wrap=True, markup=False)

    def show(self, hour: int, board: dict[str, Any]) -> None:
        self.boards.append(board)
        if hour % 12 == 0:
            totals = board["totals"]
            received = totals["counts"].get("received", 0)
            self.console.print(
                f"+{hour:02d}h  [{stack_time(board)}] received {received}"
                f"  响应率 {percent(totals['response_rate'])}"
                f"  解决率 {percent(totals['resolution_rate'])}"
                f"  满意率 {percent(totals['satisfaction_rate'])}"
                f"  overdue {board['overdue_count']}",
                soft_wrap=True,
                markup=False,
            )


class LiveScreen:
    """A table of the three rates per unit that moves while the stories play."""

    def __init__(self, page_url: str, console: Console | None = None) -> None:
        self.console = console or Console()
        self.page_url = page_url
        self.log: deque[str] = deque(maxlen=14)
        self.board: dict[str, Any] | None = None
        self.hour = 0
        self.live = Live(self._render(), console=self.console, refresh_per_second=8)

    def __enter__(self) -> "LiveScreen":
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.__exit__(None, None, None)

    def say(self, hour: int, text: str) -> None:
        self.hour = hour
        self.log.append(f"+{hour:02d}h  {text}")
        self.live.update(self._render())

    def show(self, hour: int, board: dict[str, Any]) -> None:
        self.hour, self.board = hour, board
        self.live.update(self._render())

    def _render(self) -> Group:
        title = f"吹哨 demo — stack hour +{self.hour}"
        if self.board is not None:
            title += f" · {stack_time(self.board)} Beijing"
        story = Panel(Text("\n".join(self.log) or "…"), title=title, border_style="cyan")
        parts: list[Any] = [story]
        if self.board is not None:
            parts += [self._totals(self.board), self._units(self.board)]
        parts.append(Text(f"command-centre page: {self.page_url}", style="dim"))
        return Group(*parts)

    def _totals(self, board: dict[str, Any]) -> Table:
        t = board["totals"]
        table = Table(show_edge=False, box=None, pad_edge=False)
        for heading in (
            "受理",
            "在办",
            "超期",
            "响应率",
            "解决率",
            "满意率",
            "办结率",
            "预警",
            "吹哨",
        ):
            table.add_column(heading, justify="right")
        table.add_row(
            str(t["counts"].get("received", 0)),
            str(board["open_tickets"]),
            Text(str(board["overdue_count"]), style="bold red" if board["overdue_count"] else ""),
            percent(t["response_rate"]),
            percent(t["resolution_rate"]),
            percent(t["satisfaction_rate"]),
            percent(t["closure_rate"]),
            str(len(board["hotspots"])),
            str(len(board["whistles"])),
        )
        return table

    def _units(self, board: dict[str, Any]) -> Table:
        table = Table(title="三率 per unit", title_justify="left", expand=False)
        table.add_column("unit")
        for heading in ("派单", "响应率", "解决率", "满意率", "按时办结", "超期"):
            table.add_column(heading, justify="right")
        rows = sorted(board["units"], key=lambda r: -r["rates"]["counts"].get("dispatched", 0))
        for row in rows[:14]:
            r = row["rates"]
            overdue = r["counts"].get("overdue", 0)
            table.add_row(
                row["name"],
                str(r["counts"].get("dispatched", 0)),
                percent(r["response_rate"]),
                percent(r["resolution_rate"]),
                percent(r["satisfaction_rate"]),
                percent(r["on_time_resolution_rate"]),
                Text(str(overdue), style="bold red" if overdue else ""),
            )
        return table
