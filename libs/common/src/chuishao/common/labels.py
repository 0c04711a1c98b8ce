"""The Chinese names people read for the ticket's codes: the console's screens,
intake's ticket exports and notify's messages say the same words."""

from chuishao.common.domain import RATING_LABELS, Level, Rating, Role, Whistle
from chuishao.common.status import Status

STATUS_NAMES: dict[Status, str] = {
    Status.SUBMITTED: "已受理",
    Status.MANUAL_DISPATCH: "待人工派单",
    Status.DISPATCHED: "已派单",
    Status.IN_PROGRESS: "处置中",
    Status.AWAITING_RESIDENT: "待群众补充",
    Status.RESOLVED: "已办结",
    Status.CLOSED: "已结案",
    Status.LINKED: "已合并",
}
# Keyed by the channel's value (a ticket read as JSON carries the string).
CHANNEL_NAMES: dict[str, str] = {
    "hotline_12345": "12345热线",
    "snap_it": "随手拍",
    "grid_worker": "网格员",
    "building_leader": "楼门长",
    "mobile_grid_worker": "流动网格员",
    "open311": "Open311",
    "batch_import": "批量导入",
    "proactive": "主动治理（未诉先办）",
}
RATING_NAMES: dict[Rating, str] = {rating: label for label, rating in RATING_LABELS.items()}
LEVEL_NAMES: dict[Level, str] = {
    Level.COMMUNITY: "社区",
    Level.STREET: "街道",
    Level.DISTRICT: "区",
    Level.CITY: "市",
}
ROLE_NAMES: dict[Role, str] = {Role.LEAD: "主办", Role.CO: "协办", Role.SUPERVISOR: "督办"}
WHISTLE_NAMES: dict[Whistle, str] = {
    Whistle.NONE: "派单",
    Whistle.DAILY: "日常哨",
    Whistle.COORDINATION: "协同哨",
    Whistle.EMERGENCY: "应急哨",
}
