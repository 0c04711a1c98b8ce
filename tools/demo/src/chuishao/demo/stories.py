"""The brief's stories, as reports and a timetable of what each unit and resident does.

Hour 0: the reports arrive and the router summons the units. Then the stack clock moves
one hour at a time: units report for duty (报到) and resolve with photos; a resident is
unsatisfied and the ticket goes back (story 8); five parking reports in one grid raise a
hotspot warning (预警); the community never takes up the broken fire box, so at 48 h it
rises to the street (story 3), whose command centre reports for duty and sees it done.
Story 7 is a resident's report filed on the console's residents' page (/r) as a phone's
browser posts it; the 12345 operator's first callback (回访) about it reaches nobody, the
second takes the rating.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

Body = dict[str, Any]


@dataclass(frozen=True)
class Report:
    key: str
    story: str
    body: Body
    # Filed from the residents' page (/r) as a phone's browser posts its form, not the API.
    on_page: bool = False


def _report(category: str, description: str, channel: str, **location: Any) -> Body:
    return {
        "category": category,
        "description": description,
        "channel": channel,
        "location": location,
        "reporter": {"phone": "13800138000"},
    }


REPORTS = (
    Report(
        "fire_box",
        "故事3 随手拍: A-160车位旁消防箱玻璃碎了",
        _report(
            "fire_box",
            "A-160车位旁消防箱玻璃碎了",
            "snap_it",
            lat=39.9087,
            long=116.3975,
            address="和园小区 A-160",
        ),
    ),
    Report(
        "road",
        "故事1 外卖骑手: 学校门口路面塌陷",
        _report(
            "road_damage",
            "实验小学门口路面塌陷，有个大坑",
            "mobile_grid_worker",
            lat=39.8852,
            long=116.3921,
            address="锦绣家园南门 实验小学门口",
        ),
    ),
    Report(
        "fumes",
        "故事2 12345: 餐馆油烟和风机噪音扰民",
        _report(
            "oil_fumes_noise",
            "楼下餐馆油烟很大，排风机整夜轰鸣",
            "hotline_12345",
            lat=39.9065,
            long=116.4151,
            address="柳荫街 12号",
        ),
    ),
    Report(
        "buses",
        "故事4 网格员: 公交车排队加气堵路 → 协同哨",
        _report(
            "traffic_obstruction",
            "一排公交车排队等加气，把桃源路整条路都堵死了",
            "grid_worker",
            grid_code="TY-01",
            address="桃源加气站门口",
        ),
    ),
    Report(
        "smoke",
        "故事5 网格长: 路面鼓包冒烟 → 应急哨",
        _report(
            "emergency_hazard",
            "石桥路路面鼓包还在冒烟，有触电危险",
            "grid_worker",
            lat=39.9051,
            long=116.4052,
            address="石桥路 与石桥南里交叉口",
        )
        | {"priority": "emergency"},
    ),
    Report(
        "ebikes",
        "故事6 楼长: 楼道里给电动车充电",
        _report(
            "fire_hazard",
            "3号楼楼道里好几辆电动车在充电",
            "building_leader",
            lat=39.9072,
            long=116.4068,
            address="石桥小区 3号楼",
        ),
    ),
)
# A resident on the console's page: the form's fields as a browser sends them (the pin
# tapped on the map, the category the suggestion offered while typing).
LAMP = Report(
    "lamp",
    "故事7 居民在 /r 页面随手拍: 小区门口路灯不亮",
    {
        "category": "street_light",
        "description": "锦绣家园北门外的路灯坏了好几天，晚上一片漆黑",
        "lat": "39.8871",
        "long": "116.3934",
        "address": "锦绣家园北门",
        "phone": "13800138000",
    },
    on_page=True,
)
# Five parking complaints spread over one grid (far enough apart not to be duplicates).
PARKING = tuple(
    Report(
        f"parking{n}",
        f"违章停车 #{n} 桃源北网格",
        _report(
            "illegal_parking",
            f"桃源里{n}号楼前车辆违停，堵住消防通道",
            "hotline_12345",
            grid_code="TY-02",
            address=f"桃源里{n}号楼",
        ),
    )
    for n in range(1, 6)
)
PHOTO = "https://img.chuishao.example/evidence/{key}.jpg"

Step = Callable[["Actions"], Awaitable[None]]


class Actions:
    """What the timetable can ask for; `Demo` implements it against the stack."""

    async def submit(self, report: Report) -> None: ...
    async def report_for_duty(self, key: str) -> None: ...
    async def note(self, key: str, text: str) -> None: ...
    async def resolve(self, key: str, note: str) -> None: ...
    async def rate(self, key: str, rating: str, comment: str = "") -> None: ...
    async def callback(self, key: str, outcome: str) -> None: ...
    async def await_reopened(self, key: str) -> None: ...
    async def await_escalated(self, key: str) -> None: ...


def _steps(*steps: Step) -> list[Step]:
    return list(steps)


def timetable() -> dict[int, list[Step]]:
    """hour → what happens then (hour 0 comes before the clock first moves)."""
    return {
        0: _steps(
            lambda a: a.submit(LAMP),  # from the residents' page
            # 应急哨: everyone summoned reports within the 30 minutes.
            lambda a: a.report_for_duty("smoke"),
            # A fire hazard is dispatched at emergency priority (triage's danger), so its
            # units report within 30 minutes too; an hour later the street centre would
            # already be summoned and owe a report of its own.
            lambda a: a.report_for_duty("ebikes"),
        ),
        1: _steps(
            lambda a: a.report_for_duty("road"),
            lambda a: a.report_for_duty("fumes"),
            lambda a: a.report_for_duty("buses"),
            lambda a: a.report_for_duty("lamp"),
            lambda a: a.note("smoke", "现场已封控，燃气和电力已切断"),
            # Its first response within the emergency's 2 hours, or the centre is summoned.
            lambda a: a.note("ebikes", "已通知住户将电动车移出楼道"),
            lambda a: a.submit(PARKING[0]),
        ),
        2: _steps(lambda a: a.submit(PARKING[1])),
        3: _steps(
            lambda a: a.submit(PARKING[2]),
            lambda a: a.resolve("smoke", "路面已开挖处置，电缆已修复"),
            lambda a: a.resolve("ebikes", "已清理楼道，增设充电桩"),
        ),
        4: _steps(
            lambda a: a.submit(PARKING[3]),
            lambda a: a.resolve("lamp", "已更换灯泡，路灯恢复照明"),
            lambda a: a.resolve("road", "坑已回填并重新铺装"),
            lambda a: a.rate("smoke", "satisfied"),
        ),
        5: _steps(
            lambda a: a.submit(PARKING[4]),  # the fifth in a day: 预警 to the street
            lambda a: a.resolve("fumes", "已约谈商户"),
        ),
        6: _steps(
            lambda a: a.rate("road", "satisfied", "修得很快，谢谢"),
            *(lambda a, p=p: a.report_for_duty(p.key) for p in PARKING),
        ),
        7: _steps(
            # Story 8: the fumes are still there; the ticket goes back to the same unit.
            lambda a: a.rate("fumes", "unsatisfied", "油烟还是很大"),
            lambda a: a.await_reopened("fumes"),
        ),
        8: _steps(
            lambda a: a.report_for_duty("fumes"),
            # 回访: the operator's first call about the lamp reaches nobody …
            lambda a: a.callback("lamp", "no_answer"),
        ),
        9: _steps(lambda a: a.resolve("buses", "已协调错峰加气，道路已疏通")),
        10: _steps(*(lambda a, p=p: a.resolve(p.key, "已贴单拖移") for p in PARKING)),
        12: _steps(
            lambda a: a.rate("buses", "satisfied"),
            lambda a: a.rate("lamp", "satisfied", "路灯亮了，谢谢"),  # … the second does
            *(lambda a, p=p: a.rate(p.key, "satisfied") for p in PARKING[:3]),
        ),
        20: _steps(lambda a: a.resolve("fumes", "商户已安装油烟净化器")),
        22: _steps(lambda a: a.rate("fumes", "basically_satisfied", "好多了")),
        # 48 h and the community never took up the fire box: it rises to the street.
        49: _steps(lambda a: a.await_escalated("fire_box")),
        50: _steps(lambda a: a.report_for_duty("fire_box")),
        51: _steps(lambda a: a.resolve("fire_box", "已更换消防箱玻璃")),
        52: _steps(lambda a: a.rate("fire_box", "satisfied", "街道督办后很快修好了")),
    }


LAST_HOUR = max(timetable())
