"""The monthly report (月度考核报告): per unit and per street, the rates of one calendar
month, the composite score and rank against the month before, the trend of twelve
months and the busiest categories, for one viewer's scope (docs/supervision.md, "The
monthly report")."""

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from pydantic import AwareDatetime, BaseModel

from chuishao.supervision.access import ViewerScope
from chuishao.supervision.assessment import AssessmentPolicy, RankedRow, ranked
from chuishao.supervision.board import BadPeriod, Reader, ScopeRow
from chuishao.supervision.problems import StreetProblems, monthly_problems
from chuishao.supervision.rates import Rates

TREND_MONTHS = 12
ASCII_MONTH = re.compile(r"[0-9]{4}-[0-9]{2}")
FIRST_YEAR = 1900
TOP_CATEGORIES = 10
# The rates of the units' and streets' tables, in this order. 直接答复率 only in the
# totals: a call answered directly is never dispatched, so it has no unit or street.
REPORT_RATES = (
    "response_rate",
    "resolution_rate",
    "satisfaction_rate",
    "on_time_response_rate",
    "on_time_resolution_rate",
    "callback_rate",
)
TOTAL_RATES = (*REPORT_RATES, "direct_answer_rate")
# The counts beside them: counter → column header.
REPORT_COUNTS = {
    "dispatched": "派单数",
    "responded": "响应数",
    "resolved": "解决数",
    "rated": "评价数",
    "satisfied": "满意数",
    "overdue": "超期数",
    "bounces": "退单数",
    # 未诉先办: counted apart, in none of the rates (docs/supervision.md, "Proactive tickets").
    "proactive": "主动治理",
    "proactive_resolved": "主动治理办结",
    # 申诉 and 免责 (docs/supervision.md, "Appeals and exemptions").
    "appeals": "申诉数",
    "exemptions": "免责数",
}


@dataclass(frozen=True)
class Definition:
    anchor: str  # the id of its entry in the page's definitions section
    label: str
    text: str


# From docs/supervision.md ("The rates", the counter tables): one click from every figure.
RATE_DEFINITIONS: dict[str, Definition] = {
    "response_rate": Definition(
        "def-response_rate",
        "响应率",
        "已响应 ÷ 已派单（responded / dispatched）。单位：该单位被召集的每张工单（含升级召集），"
        "报到或有理由退单即为响应；街道与全区：主办单位报到即算已响应。",
    ),
    "resolution_rate": Definition(
        "def-resolution_rate",
        "解决率",
        "已解决 ÷ 应办理（resolved / answerable）。单位：仍在办理（未退单、未转办）的工单中已办结"
        "签退的；工单：已派单的工单中现已解决（未被重新打开）的。",
    ),
    "satisfaction_rate": Definition(
        "def-satisfaction_rate",
        "满意率",
        "（满意 + 基本满意）÷ 评价次数（satisfied / rated）。每次评价都计入；未评价结案的工单"
        "不计入分子也不计入分母。",
    ),
    "on_time_response_rate": Definition(
        "def-on_time_response_rate",
        "按时签收率",
        "按时响应 ÷ 已响应（responded_on_time / responded）：首次报到或退单不晚于报到时限，"
        "且此前未记录该时限超期。未设报到时限的按按时计。",
    ),
    "on_time_resolution_rate": Definition(
        "def-on_time_resolution_rate",
        "按时办结率",
        "按时办结 ÷ 已解决（resolved_on_time / resolved）：办结签退（单位）或解决（工单）"
        "不晚于本轮办理时限，且此前未记录该时限超期。",
    ),
    "callback_rate": Definition(
        "def-callback_rate",
        "回访率",
        "评价次数 ÷ 回访结束数（rated / feedback_ended）= 评价 ÷（评价 + 评价期满未评价结案）。",
    ),
    "direct_answer_rate": Definition(
        "def-direct_answer_rate",
        "直接答复率",
        "直接答复 ÷ 受理（answered_directly / received）：12345 话务员依知识库当场答复、"
        "未派单即结案的来电。只有全市（区）合计有此率。",
    ),
    "strict_satisfaction_rate": Definition(
        "def-strict_satisfaction_rate",
        "非常满意率",
        "满意 ÷ 评价次数（rated_satisfied / rated），只计“满意”，不含基本满意。",
    ),
    "closure_rate": Definition(
        "def-closure_rate", "办结率", "已结案 ÷ 受理（closed / received），任何结案原因。"
    ),
}
OTHER_DEFINITIONS: dict[str, Definition] = {
    "score": Definition(
        "def-score",
        "综合得分",
        "各率按考核政策（assessment.toml）的权重加权平均 × 100。某率分母为 0（“—”）时不计入，"
        "其余权重按比例放大；各率均为“—”则无得分。",
    ),
    "rank": Definition(
        "def-rank",
        "名次",
        "按综合得分（保留两位小数）由高到低排名，同分同名次（1、2、2、4）。当月派单数少于"
        "政策最低派单数的不排名。",
    ),
    "rank_change": Definition(
        "def-rank_change",
        "名次变化",
        "上月名次 − 本月名次：↑2 表示比上月前进两名；“新”表示上月未排名。",
    ),
    "score_change": Definition("def-score_change", "得分变化", "本月综合得分 − 上月综合得分。"),
    "average_handling_hours": Definition(
        "def-average_handling_hours",
        "平均办理时长（小时）",
        "从派单到解决（单位：从该单位首次被召集到其办结签退）经过的自然时间（小时，含夜间与节假日），"
        "对当月受理、现已解决且派单时间已知的工单取平均（handling_seconds ÷ handled）。"
        "重新打开的工单以再次解决的时间计；主动治理工单不计入。",
    ),
    "proactive": Definition(
        "def-proactive",
        "主动治理（未诉先办）",
        "指挥中心根据预警或每月一题主动立案的工单数（渠道 proactive）及其中已办结的数目。"
        "这些工单照常派单、计时、督办，但不计入受理量和任何考核率、平均办理时长与每月一题，"
        "以免自行立案、自行办结抬高考核成绩。",
    ),
    "problems": Definition(
        "def-problems",
        "每月一题",
        "各街道当月同一网格、同一类别被反映达到考核政策所定次数（assessment.toml [problems]，"
        "默认两次）的问题，每次反映都计（含并入同一工单的重复反映），"
        "按反映次数、重复反映人数（同一反映人当月反映同一问题超过一次）排序；"
        "环比为本月反映次数 − 上月反映次数，上月名次为上月该问题在本街道的名次。",
    ),
    "period": Definition(
        "def-period",
        "统计期",
        "工单按受理日（北京时间）归入当月；月内数字是当月受理工单现在的状态，会随办理推进而变化。",
    ),
    "counts": Definition(
        "def-counts",
        "计数",
        "派单数：被召集的工单（单位）或已派单的工单（街道）；响应、解决、评价、满意：各率的分子"
        "或分母；超期：现已超期的在办工单；退单：退回次数；申诉：单位提出的申诉；免责：区级"
        "支持的申诉（见“免责”）。",
    ),
    "exemptions": Definition(
        "def-exemptions",
        "免责",
        "单位对不满意评价、超期、退单或不可抗力提出申诉，区级（或市级）账号支持后即为免责："
        "评价免责——该单位申诉时已有的不满意评价不计入其评价数与回访数（满意率、回访率的分母）；"
        "超期免责——其报到与申诉所在轮次的办结、超期均按按时计；退单免责与不可抗力免责——"
        "该工单不计入该单位的任何数字。街道与全区的率按工单计，不因免责改变，只显示申诉与免责数。",
    ),
}


def check_month(month: str) -> str:
    """A real calendar month YYYY-MM (ASCII digits, from 1900: the report also reads
    the eleven months before it)."""
    if ASCII_MONTH.fullmatch(month) and int(month[:4]) >= FIRST_YEAR:
        try:
            datetime.strptime(month, "%Y-%m")
        except ValueError:
            pass
        else:
            return month
    raise BadPeriod(f"a month is YYYY-MM, not {month!r}")


def months_before(month: str, count: int) -> list[str]:
    """`count` months ending with `month`, oldest first."""
    year, number = (int(part) for part in month.split("-"))
    index = year * 12 + number - 1
    return [f"{i // 12:04d}-{i % 12 + 1:02d}" for i in range(index - count + 1, index + 1)]


def previous_month(month: str) -> str:
    return months_before(month, 2)[0]


class MonthlyReport(BaseModel):
    month: str
    previous_month: str
    as_of: AwareDatetime
    scope: str  # 京海市, 云溪区, 青石街道
    scope_streets: list[str] | None  # None: everything
    policy: AssessmentPolicy
    totals: Rates
    previous_totals: Rates
    units: list[RankedRow]
    streets: list[RankedRow]
    trend: list[Rates]  # the scope's totals, month by month, oldest first
    # The busiest categories of the month; None for a viewer limited to some streets
    # (categories are counted for the whole city only).
    categories: list[ScopeRow] | None
    category_names: dict[str, str] = {}
    # 每月一题: each street's recurring problems of the month (chuishao.supervision.problems).
    problems: list[StreetProblems] = []

    @property
    def empty(self) -> bool:
        return not self.totals.counts and not self.units and not self.streets


@dataclass
class ReportSources:
    reader: Reader
    policy: AssessmentPolicy
    unit_name: Callable[[str], str]
    place_name: Callable[[str], str]
    category_names: Callable[[], dict[str, str]]


async def _levels(
    sources: ReportSources, streets: list[str] | None, month: str
) -> tuple[list[ScopeRow], list[ScopeRow]]:
    reader = sources.reader
    street_rows = await reader.rows("street", month, sources.place_name)
    if streets is None:
        units = await reader.rows("unit", month, sources.unit_name)
        return units, street_rows
    units = await reader.street_unit_rows(streets, month, sources.unit_name)
    return units, [row for row in street_rows if row.id in streets]


def _ranked(
    current: list[ScopeRow], previous: list[ScopeRow], policy: AssessmentPolicy
) -> list[RankedRow]:
    return ranked(
        [(row.id, row.name, row.rates) for row in current],
        [(row.id, row.rates) for row in previous],
        policy,
    )


async def ranked_units(
    sources: ReportSources, streets: list[str] | None, month: str
) -> list[RankedRow]:
    """The units of `streets` (None: everything) scored and ranked for `month` against the
    month before, exactly as the report ranks them: the big screen's ranking."""
    month = check_month(month)
    units, _ = await _levels(sources, streets, month)
    previous, _ = await _levels(sources, streets, previous_month(month))
    return _ranked(units, previous, sources.policy)


async def monthly_report(
    sources: ReportSources, scope: ViewerScope, month: str, now: datetime
) -> MonthlyReport:
    month = check_month(month)
    before = previous_month(month)
    streets = None if scope.everything else sorted(scope.streets)
    total_scope: str | list[str] = "all" if streets is None else [f"street:{s}" for s in streets]
    reader = sources.reader
    units, street_rows = await _levels(sources, streets, month)
    previous_units, previous_streets = await _levels(sources, streets, before)
    trend = [
        await reader.rates(total_scope, m, label="all") for m in months_before(month, TREND_MONTHS)
    ]
    categories: list[ScopeRow] | None = None
    names: dict[str, str] = {}
    if streets is None:
        rows = await reader.rows("category", month)
        categories = sorted(rows, key=lambda r: (-r.rates.count("received"), r.id))
        categories = categories[:TOP_CATEGORIES]
        known = sources.category_names()
        names = {row.id: known.get(row.id, row.id) for row in categories}
    return MonthlyReport(
        month=month,
        previous_month=before,
        as_of=now,
        scope=scope.label,
        scope_streets=streets,
        policy=sources.policy,
        totals=trend[-1],
        previous_totals=trend[-2],
        units=_ranked(units, previous_units, sources.policy),
        streets=_ranked(street_rows, previous_streets, sources.policy),
        trend=trend,
        categories=categories,
        category_names=names,
        problems=await monthly_problems(
            reader,
            streets,
            month,
            before,
            sources.policy.problems,
            sources.place_name,
            sources.category_names(),
        ),
    )
