"""The clerk's screens in plain Chinese: statuses, clocks, roles, whistles, decline reasons,
times and the ticket's history, from intake's ticket view (JSON).

Intake's history entries carry the event type and a short English summary (intake
projection.SUMMARIES); the words here are rebuilt from the type, the unit named in the
summary (shown by its name from the `units` read model) and the note it carries, so a
clerk reads "和园社区网格站 签收了工单", never `grid-heyuan reported for duty`.
"""

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from chuishao.common.domain import ClockKind, DeclineReason, Role
from chuishao.common.labels import (
    CHANNEL_NAMES,
    LEVEL_NAMES,
    ROLE_NAMES,
    STATUS_NAMES,
    WHISTLE_NAMES,
)

# Clerks work in Beijing time whatever the server's zone.
ZONE = ZoneInfo("Asia/Shanghai")

# The names of statuses, channels, levels, roles and whistles are shared with intake's
# exports and notify's messages (common.labels).
STATUSES = STATUS_NAMES
CLOCKS = {
    ClockKind.REPORT_FOR_DUTY: "签收时限",
    ClockKind.FIRST_RESPONSE: "首次响应时限",
    ClockKind.RESOLUTION: "办结时限",
    ClockKind.MANUAL_DISPATCH: "派单时限",
}
LEVELS = LEVEL_NAMES
ROLES = ROLE_NAMES
WHISTLES = WHISTLE_NAMES
DECLINE_REASONS = {
    DeclineReason.NOT_OUR_RESPONSIBILITY: "不属于本单位职责",
    DeclineReason.WRONG_LOCATION: "地点有误，不在本单位辖区",
    DeclineReason.DUPLICATE: "重复工单",
    DeclineReason.INSUFFICIENT_INFORMATION: "信息不足，无法处置",
    DeclineReason.OTHER: "其他原因",
}
CHANNELS = CHANNEL_NAMES


def parse_time(value: str | datetime | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def clock_time(value: str | datetime | None) -> str:
    """12月2日 21:05, Beijing time."""
    at = parse_time(value)
    if at is None:
        return ""
    local = at.astimezone(ZONE)
    return f"{local.month}月{local.day}日 {local:%H:%M}"


def span(seconds: float) -> str:
    """A length of time in words: 45分钟, 3小时20分钟, 2天5小时."""
    minutes = int(abs(seconds)) // 60
    if minutes < 1:
        return "不到1分钟"
    if minutes < 60:
        return f"{minutes}分钟"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}小时" + (f"{minutes}分钟" if minutes else "")
    return f"{hours // 24}天" + (f"{hours % 24}小时" if hours % 24 else "")


def age(since: str | datetime | None, now: datetime) -> str:
    at = parse_time(since)
    return f"{span((now - at).total_seconds())}前" if at else ""


def until(deadline: str | datetime | None, now: datetime) -> str:
    """剩3小时 / 已超时20分钟."""
    at = parse_time(deadline)
    if at is None:
        return ""
    left = (at - now).total_seconds()
    return f"剩{span(left)}" if left >= 0 else f"已超时{span(left)}"


def iso(value: str | datetime | None) -> str:
    at = parse_time(value)
    return at.astimezone(UTC).isoformat() if at else ""


# --- history

UnitName = Callable[[str], str]
_UNIT_FIRST = re.compile(r"^(?P<unit>[A-Za-z0-9_-]+)\b")
_AFTER_COLON = re.compile(r":\s?(?P<note>.*)$", re.S)


def _unit(summary: str) -> str:
    found = _UNIT_FIRST.match(summary)
    return found.group("unit") if found else ""


def _note(summary: str) -> str:
    found = _AFTER_COLON.search(summary)
    return found.group("note").strip() if found else ""


def _declined(summary: str, name: UnitName) -> str:
    # "<unit> returned it: <reason_code> <note>"
    rest = _note(summary)
    code, _, note = rest.partition(" ")
    reason = DECLINE_REASONS.get(DeclineReason(code), code) if code in set(DeclineReason) else code
    return f"{name(_unit(summary))} 退单：{reason}" + (f"（{note}）" if note else "")


def _transferred(summary: str, name: UnitName) -> str:
    found = re.match(r"^(\S+) transferred it to (\S+)", summary)
    if not found:
        return "转办"
    return f"{name(found.group(1))} 转办给 {name(found.group(2))}"


def _extension(summary: str, name: UnitName) -> str:
    hours = re.search(r"asked for (\d+) h", summary)
    return f"{name(_unit(summary))} 申请延期" + (f" {hours.group(1)} 小时" if hours else "")


def _decided(word: str) -> Callable[[str, UnitName], str]:
    def render(summary: str, name: UnitName) -> str:
        found = re.match(r"^extension for (\S+) \w+ by (\S+)", summary)
        if not found:
            return f"延期申请{word}"
        return f"{name(found.group(2))} {word}了 {name(found.group(1))} 的延期申请"

    return render


def _dispatched(summary: str, name: UnitName) -> str:
    found = re.match(r"^dispatched to (.+) \((\w+), (\w+)\)$", summary)
    if not found:
        return "已派单"
    role = ROLES.get(Role(found.group(2)), "") if found.group(2) in set(Role) else ""
    return f"派单给 {found.group(1)}" + (f"（{role}）" if role else "")


def _armed(summary: str, name: UnitName) -> str:
    found = re.match(r"^(\w+) clock at (\w+), due (\S+)$", summary)
    if not found:
        return "计时开始"
    clock = found.group(1)
    label = CLOCKS.get(ClockKind(clock), clock) if clock in set(ClockKind) else clock
    return f"{label}开始计时，截止 {clock_time(found.group(3))}"


def _urged(summary: str, name: UnitName) -> str:
    found = re.match(r"^督办 (\S+) \(by (\S+)\)(?::\s?(.*))?$", summary, re.S)
    if not found:
        return summary
    text = f"{name(found.group(2))} 督办 {name(found.group(1))}"
    return text + (f"：{found.group(3)}" if found.group(3) else "")


_HISTORY: dict[str, Callable[[str, UnitName], str]] = {
    "TicketSubmitted": lambda s, n: (
        "群众提交诉求"
        + (
            f"（{CHANNELS.get(s.rsplit(' ', 1)[-1], s.rsplit(' ', 1)[-1])}）"
            if " via " in s
            else ""
        )
    ),
    "TicketTriaged": lambda s, n: "系统完成分类研判",
    "TicketDispatched": _dispatched,
    "TicketNeedsManualDispatch": lambda s, n: "待指挥中心人工派单",
    "SlaClockArmed": _armed,
    "UnitNotified": lambda s, n: f"已通知 {n(_unit(s))}",
    "TicketAcknowledged": lambda s, n: f"{n(_unit(s))} 签收了工单",
    "TicketDeclined": _declined,
    "TicketProgressNoted": lambda s, n: f"{n(_unit(s))} 记录进展：{_note(s)}",
    "ExtensionRequested": _extension,
    "ExtensionApproved": _decided("批准"),
    "ExtensionDenied": _decided("驳回"),
    "TicketTransferred": _transferred,
    "TicketUrged": _urged,
    "TicketAwaitingResident": lambda s, n: f"{n(_unit(s))} 等待群众补充：{_note(s)}",
    "TicketResidentReplied": lambda s, n: "群众已答复",
    "TicketRecategorised": lambda s, n: "调整了类别或优先级",
    "UnitSignedOff": lambda s, n: f"{n(_unit(s))} 办结：{_note(s)}",
    "TicketResolved": lambda s, n: "工单已办结",
    "TicketRated": lambda s, n: "群众评价" + (f"：{_note(s)}" if ":" in s else ""),
    "TicketReopened": lambda s, n: (
        "群众不满意，工单重新办理" + (f"：{_note(s)}" if ":" in s else "")
    ),
    "TicketClosed": lambda s, n: "工单已结案",
    "TicketEscalated": lambda s, n: "工单升级，上级介入督办",
    "ReportLinked": lambda s, n: "合并了一条相同问题的群众诉求",
    "ReportSplit": lambda s, n: "拆分出一条误合并的诉求",
    "SlaWarning": lambda s, n: "时限即将到期，系统催办",
    "SlaBreached": lambda s, n: "已超过时限",
    # Neither names the unit (intake's summary does not): another unit reads this too.
    "AppealFiled": lambda s, n: "承办单位提出申诉",
    "AppealDecided": lambda s, n: "区级支持申诉（免责）" if " upheld " in s else "区级驳回申诉",
}


def history_line(entry: dict[str, Any], name: UnitName) -> str:
    """One history entry in plain Chinese; the person who acted, when intake recorded
    one, is named by the template beside it."""
    render = _HISTORY.get(str(entry.get("type", "")))
    summary = str(entry.get("summary", ""))
    if render is None:
        return summary
    try:
        return render(summary, name)
    except (ValueError, IndexError):  # a summary in a shape this does not know: say it as is
        return summary


def person_of(entry: dict[str, Any]) -> str | None:
    """The person intake recorded for an action through the console, if any."""
    for key in ("person", "by", "actor"):
        value = entry.get(key)
        if isinstance(value, str) and value:
            return value
        if isinstance(value, dict) and value.get("username"):
            return str(value["username"])
    return None
