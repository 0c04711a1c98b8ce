"""Who may open a proactive ticket (未诉先办, channel `proactive`), and where.

A command centre (street, district or city) opens one from a hotspot warning or a row of
the month's 每月一题 before anyone complains; the public never does. So the native API
takes channel `proactive` only from a supervisor's key (or a console person acting as
one), only with a grid code, and only for a grid of the supervisor's own streets: a
street's centre cannot open work on its neighbour's street. Open311 always files as
`open311`, and the NATS command has no caller to check, so it refuses the channel.
"""

from chuishao.common.commands import SubmitReport
from chuishao.common.domain import Channel
from chuishao.common.errors import ApiError
from chuishao.common.kv import KvView
from chuishao.common.place_names import PlaceName, street_of
from chuishao.intake.lifecycle import Actor

FIELD = "channel"


def is_proactive(command: SubmitReport) -> bool:
    return command.channel == Channel.PROACTIVE


def check_proactive(
    command: SubmitReport, sender: Actor | None, places: KvView[PlaceName] | None
) -> None:
    """Raise the refusal for a proactive report this sender may not file; else nothing."""
    if not is_proactive(command):
        return
    if sender is None or not sender.is_supervisor:
        raise ApiError(
            403,
            "proactive_by_centre",
            "只有指挥中心（街道、区、市）可以主动立案（未诉先办）",
            "Only a command centre (street, district or city) may open a proactive ticket",
            field=FIELD,
        )
    grid = command.location.grid_code
    if not grid:
        raise ApiError(
            422,
            "proactive_needs_grid",
            "主动立案须注明网格（location.grid_code）",
            "A proactive ticket needs its grid (location.grid_code)",
            field="location.grid_code",
        )
    if sender.scope.everywhere:
        return
    if places is None or not places.all():
        raise ApiError(
            503,
            "starting",
            "服务正在启动（辖区目录尚未加载），请稍后重试",
            "Intake is starting (the directory of places has not loaded); retry shortly",
            headers={"Retry-After": "2"},
        )
    # A grid, not any place: the router places a ticket by its code only when it names a
    # grid, else by its point or address, which could lie on another street.
    known = places.get(grid)
    street = street_of(places, grid) if known is not None and known.kind == "grid" else None
    if street is None:
        raise ApiError(
            422,
            "unknown_grid",
            f"目录中没有网格 {grid}",
            f"There is no grid {grid} in the directory",
            field="location.grid_code",
        )
    if street not in sender.scope.streets:
        raise ApiError(
            403,
            "street_not_in_scope",
            "只能为本辖区的网格主动立案",
            "A command centre may open proactive tickets on its own streets only",
            field="location.grid_code",
        )


def refused_over_nats() -> ApiError:
    return ApiError(
        403,
        "proactive_by_centre",
        "主动立案须由指挥中心通过 HTTP 接口（POST /api/v1/reports）提交",
        "A proactive ticket is opened by a command centre over HTTP (POST /api/v1/reports)",
        field=FIELD,
    )
