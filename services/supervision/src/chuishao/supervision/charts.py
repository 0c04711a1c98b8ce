"""The monthly report's charts, drawn on the server as SVG (pygal) and put in the page
inline: nothing is loaded from anywhere when the page is shown or printed. pygal's
script (tooltips) is switched off (`js=[]`) and its inline configuration script and
comments are taken out, so the SVG is static markup only."""

import re
import sys
from collections.abc import Sequence

import pygal  # type: ignore[import-untyped]
from pygal.style import Style  # type: ignore[import-untyped]

from chuishao.supervision.board import ScopeRow
from chuishao.supervision.rates import Rates

# pygal appends an import hook for its map plugins (unused here) that has no `find_spec`:
# on Python 3.11 every later import that fails over to it warns (ImportWarning), which
# the tests turn into errors. Take it out again.
sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, pygal.PluginImportFixer)]

THREE_RATES = {
    "response_rate": "响应率",
    "resolution_rate": "解决率",
    "satisfaction_rate": "满意率",
}
STYLE = Style(
    font_family='"Noto Sans CJK SC", "WenQuanYi Micro Hei", "PingFang SC", "Microsoft YaHei", '
    "sans-serif",
    background="white",
    plot_background="white",
    foreground="#1d2430",
    foreground_strong="#1d2430",
    foreground_subtle="#6b7480",
    colors=("#2e86c1", "#1e8449", "#b9770e", "#c0392b"),
    title_font_size=15,
    label_font_size=11,
    major_label_font_size=11,
    legend_font_size=12,
    value_font_size=10,
)
_SCRIPT = re.compile(r"<script\b.*?</script>", re.S | re.I)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
MAX_STREET_BARS = 40


def _options(title: str, width: int = 760, height: int = 320, **more: object) -> dict[str, object]:
    return {
        "title": title,
        "style": STYLE,
        "width": width,
        "height": height,
        "explicit_size": True,
        "disable_xml_declaration": True,
        "js": [],
        "legend_at_bottom": True,
        "print_values": False,
        "show_y_guides": True,
        "truncate_label": 12,
        **more,
    }


def static_svg(svg: str) -> str:
    """The chart without script or comments: markup only."""
    return _COMMENT.sub("", _SCRIPT.sub("", svg))


def _render(chart: object) -> str:
    svg: str = chart.render(is_unicode=True)  # type: ignore[attr-defined]
    return static_svg(svg)


def _percent(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 1)


def trend_chart(trend: Sequence[Rates], scope: str) -> str:
    chart = pygal.Line(
        **_options(
            f"{scope} 三率趋势（近 {len(trend)} 个月，%）",
            range=(0, 100),
            dots_size=3,
            allow_interruptions=True,
        )
    )
    chart.x_labels = [rates.period for rates in trend]
    for name, label in THREE_RATES.items():
        chart.add(label, [_percent(getattr(rates, name)) for rates in trend])
    return _render(chart)


def streets_chart(streets: Sequence[tuple[str, Rates]]) -> str:
    """(name, rates) of each street, in the report's order."""
    rows = list(streets)[:MAX_STREET_BARS]
    chart = pygal.Bar(
        **_options(
            "各街道三率（%）",
            height=340,
            range=(0, 100),
            x_label_rotation=30 if len(rows) > 6 else 0,
        )
    )
    chart.x_labels = [street for street, _ in rows]
    for name, label in THREE_RATES.items():
        chart.add(label, [_percent(getattr(rates, name)) for _, rates in rows])
    return _render(chart)


def categories_chart(rows: Sequence[ScopeRow], names: dict[str, str]) -> str:
    chart = pygal.HorizontalBar(
        **_options(
            "本月受理量前列的类别（件）",
            height=max(160, 40 + 26 * len(rows)),
            show_legend=False,
            print_values=True,
        )
    )
    ordered = list(reversed(rows))  # pygal draws the first value at the bottom
    chart.x_labels = [names.get(row.id, row.id) for row in ordered]
    chart.add("受理", [row.rates.count("received") for row in ordered])
    return _render(chart)
