"""The evaluation behind `make triage-eval`, on a tiny fixture with known figures."""

from typing import Any

from chuishao.router.triage_corpus import Row, parse_line
from chuishao.router.triage_eval import danger_report, evaluate, percentile, report


def pred(category: str | None, route: str, danger: bool = False) -> dict[str, Any]:
    return {"category": category, "route": route, "danger": danger, "confidence": 0.5}


ROWS = [
    Row("road_damage", False, (), "路口有个大坑"),
    Row("road_damage", False, (), "路面坑坑洼洼"),
    Row("street_light", False, (), "路灯不亮"),
    Row("emergency_hazard", True, ("119",), "煤气泄漏了"),
    Row("emergency_hazard", True, ("119",), "着火了"),
    Row("none", False, (), "问天气"),
    Row("none", False, (), "查快递"),
]
PREDICTIONS = [
    pred("road_damage", "auto"),
    pred("road_damage", "manual"),
    pred("road_damage", "auto"),  # a misroute
    pred("emergency_hazard", "auto", danger=True),
    pred("fire_hazard", "manual", danger=False),  # missed danger, wrong top-1
    pred("street_light", "auto", danger=True),  # none auto-routed, a false alarm
    pred(None, "manual"),
]


def test_figures_on_a_fixture() -> None:
    f = evaluate(ROWS, PREDICTIONS)
    assert (f.texts, f.served, f.nones) == (7, 5, 2)
    assert f.top1 == 3 / 5
    assert f.auto_share == 3 / 5
    assert f.auto_precision == 2 / 4
    assert [(g, p) for g, p, _ in f.misroutes] == [
        ("street_light", "road_damage"),
        ("none", "street_light"),
    ]
    assert f.none_auto == 1 / 2
    assert (f.danger_texts, f.danger_recall, f.danger_missed) == (2, 1 / 2, ["着火了"])
    assert f.false_alarms == 1 / 5
    assert f.per_category["road_damage"].texts == 2
    assert f.per_category["road_damage"].auto == 1
    assert f.per_category["road_damage"].routed_here == 2
    assert f.per_category["none"].auto == 1
    assert ("emergency_hazard", "fire_hazard", 1) in f.confusions
    text = report(f)
    lines = {line.split("  ")[0]: line for line in text.splitlines()}
    assert "60.0%" in lines["top-1 accuracy (served)"]
    assert "50.0%" in lines["precision among auto-routed"]
    assert "emergency_hazard → fire_hazard: 1" in text


def test_percentiles() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 51.0
    assert percentile(values, 0.99) == 99.0
    assert percentile([], 0.99) == 0.0


def test_corpus_lines_parse_and_round_trip() -> None:
    row = parse_line("emergency_hazard\t1\t119,120\t厨房着火了有人昏迷\n")
    assert row == Row("emergency_hazard", True, ("119", "120"), "厨房着火了有人昏迷")
    assert row.line() == "emergency_hazard\t1\t119,120\t厨房着火了有人昏迷"
    assert parse_line("   \n") is None


def test_the_danger_only_report_checks_the_numbers_told() -> None:
    rows = [
        Row("emergency_hazard", True, ("119",), "楼道里一股煤气味"),
        Row("none", True, ("110", "120"), "楼下有人拿着刀在砍人，有人在流血"),
        Row("emergency_hazard", True, ("119", "120"), "楼道里着火了"),  # told 119 only
        Row("none", False, (), "问天气"),
    ]
    predictions = [
        pred("emergency_hazard", "auto", danger=True),
        pred("none", "manual", danger=True),
        pred("emergency_hazard", "auto", danger=True),
        pred(None, "manual"),
    ]
    text = danger_report(rows, evaluate(rows, predictions))
    assert "texts 4: 3 danger, 1 not" in text
    assert "100.0%" in text
    assert "call missing a labelled number       1" in text
    assert "119,120 → 119: 楼道里着火了" in text


def test_the_danger_only_report_names_the_rules_of_each_false_alarm() -> None:
    rows = [Row("emergency_hazard", True, ("119",), "着火了"), Row("none", False, (), "着火了")]
    predictions = [pred("emergency_hazard", "auto", danger=True), pred("none", "auto", True)]
    text = danger_report(rows, evaluate(rows, predictions))
    assert "  [fire] 着火了" in text
