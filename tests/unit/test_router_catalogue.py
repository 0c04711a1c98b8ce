"""The 12345-sized catalogue (#17): 42 categories, the units that serve them, a township
with villages, SLA policies, the keyword layer's probes, and the danger path downstream
(emergency priority, first in the manual queue, the 10-minute dispatch clock, whom to
ring)."""

import dataclasses
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from shapely.ops import unary_union

from chuishao.common.domain import ClockKind, Level, Location, Priority, Role, Whistle
from chuishao.common.events import (
    TicketDispatched,
    TicketNeedsManualDispatch,
    TicketTriaged,
)
from chuishao.intake.projection import apply
from chuishao.intake.views import TicketView
from chuishao.notify.audience import Audience
from chuishao.notify.messages import Messages
from chuishao.notify.planning import notices_for
from chuishao.router import handlers
from chuishao.router.decision import RoutingRequest
from chuishao.router.directory import Directory
from chuishao.router.geometry import LocalPlane
from chuishao.router.places import Place
from chuishao.router.plugins_manager import plugin_manager
from chuishao.router.settings import RouterSettings
from chuishao.router.snapshot import Snapshot
from chuishao.router.state import ManualEntry, queue_score
from chuishao.router.triage import KeywordTriage, Suggestion, Vocabulary
from chuishao.sla.policies import PolicyBook
from unit.test_projection import record_of
from unit.test_router_handlers import AT, SNAP, dispatches, escalation, one, report

HOUR = 3600.0
WORKING_DAY = 7 * HOUR  # the office_hours calendar: 09:00–12:00 and 13:30–17:30

EXISTING = {
    "road_damage", "street_light", "manhole_cover", "oil_fumes_noise", "uncivilised_behaviour",
    "property_dispute", "water_leak", "neighbour_dispute", "fire_box", "fire_hazard",
    "emergency_hazard", "traffic_obstruction", "illegal_parking", "wage_arrears", "assistance",
    "heating", "shared_bikes",
}  # fmt: skip

# (category, grid, lead, co): /work/notes/categories.md's lead function (co-handlers) as
# units of the shipped directory, in a city community and in a village.
NEW = [
    ("gas_supply", "HY-01", "gas-yunxi", set()),
    ("water_supply", "HY-01", "water-yunxi", {"grid-heyuan"}),
    ("power_outage", "LY-01", "power-yunxi", set()),
    ("drainage", "SQ-01", "shuiwu-yunxi", {"cg-yunxi"}),
    ("river_pollution", "BH-02", "shuiwu-yunxi", {"hezhang-liuan"}),
    ("river_pollution", "XH-01", "shuiwu-yunxi", {"hezhang-qingshan"}),
    ("construction_noise", "JX-01", "shengtai-yunxi", {"zhifa-yunmen"}),
    ("air_pollution", "NL-01", "shengtai-yunxi", set()),
    ("garbage_sanitation", "TY-02", "cg-yunxi", {"grid-taoyuan"}),
    ("public_toilet", "XY-01", "cg-yunxi", set()),
    ("greening_trees", "HY-02", "yuanlin-yunxi", set()),
    ("stray_animals", "DG-01", "zhifa-qingshan", {"cwh-donggou"}),
    ("illegal_vendors", "LY-02", "zhifa-liuan", set()),
    ("outdoor_ads", "SQ-02", "cg-yunxi", set()),
    ("illegal_construction", "HY-01", "zhifa-qingshi", {"zhujian-yunxi"}),
    ("group_rental", "BH-01", "zhujian-yunxi", {"grid-binhe"}),
    ("elevator", "HY-01", "shijian-yunxi", {"wanjia-wuye"}),
    ("market_consumer", "JX-02", "shijian-yunxi", set()),
    ("food_safety", "TY-01", "shijian-yunxi", set()),
    ("education", "HY-01", "jiaowei-yunxi", set()),
    ("medical_service", "XH-01", "weijian-yunxi", set()),
    ("social_security", "LY-01", "renshe-yunxi", set()),
    ("household_registration", "HY-01", "paichusuo-qingshi", set()),
    ("household_registration", "DG-01", "paichusuo-qingshan", set()),
    ("bus_service", "TY-01", "jiaotong-yunxi", set()),
    ("taxi_ride_hailing", "JX-01", "jiaotong-yunxi", set()),
    ("traffic_signals", "SQ-01", "jiaojing-yunxi", set()),
]
NEW_CODES = {row[0] for row in NEW}

GAS_PROBE = "小区里天然气管道被挖断了，呲呲往外喷气"
WAGES_PROBE = "干了三个月活老板一分钱没给"
VILLAGE_ROAD_PROBE = "村里的路被拉土的大货车压坏了"
EXIT_SIGN_PROBE = "安全出口指示灯不亮"
LIFE_AT_RISK = "电梯里有人被困，老人晕倒了"


@pytest.fixture(scope="module")
def keywords() -> KeywordTriage:
    """The keyword layer alone: what it decides must not depend on the trained model."""
    settings = RouterSettings()
    return KeywordTriage.build(Vocabulary.load(settings.triage_file), SNAP.catalogue)


@pytest.fixture(scope="module")
def snap(keywords: KeywordTriage) -> Snapshot:
    return dataclasses.replace(SNAP, triage=keywords)


class Unsure:
    """A triage that cannot place anything: the danger path must not depend on it."""

    def classify(self, text: str) -> Suggestion:
        return Suggestion(category="assistance", confidence=0.3, auto=False)


def decide(category: str, grid: str, description: str = "") -> tuple[str, set[str], Level]:
    directory = SNAP.directory
    location = Location(grid_code=grid)
    request = RoutingRequest(
        ticket_id="T1",
        category=category,
        description=description,
        priority=Priority.NORMAL,
        location=location,
        place=directory.locate(location),
    )
    decision = SNAP.dispatcher.decide(request)
    assert decision is not None, f"{category} was not placed at {grid}"
    return decision.lead, set(decision.co), decision.level


# --- the catalogue


def test_the_catalogue_is_the_42_categories_each_with_a_chinese_name() -> None:
    catalogue = {category.code: category for category in SNAP.catalogue}
    assert set(catalogue) == EXISTING | NEW_CODES
    assert len(catalogue) == 42
    for code in NEW_CODES:
        category = catalogue[code]
        assert any("\u4e00" <= ch <= "\u9fff" for ch in category.name), code
        assert category.description, code
        assert category.group, code
        assert len(category.keywords) >= 3, code
    assert catalogue["gas_supply"].name == "燃气供应"
    assert catalogue["traffic_signals"].default_priority == Priority.URGENT
    assert [a.code for a in catalogue["illegal_construction"].attributes] == ["kind", "address"]


def test_the_new_plugins_are_registered_entry_points() -> None:
    names = {name for name, _ in plugin_manager().list_name_plugin()}
    assert names >= {
        "utilities", "ecology", "city_services", "buildings", "market", "public_services",
        "transport",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("category", "grid", "lead", "co"), NEW, ids=[f"{r[0]}@{r[1]}" for r in NEW]
)
def test_a_new_category_goes_to_its_lead_unit(
    category: str, grid: str, lead: str, co: set[str]
) -> None:
    assert decide(category, grid)[:2] == (lead, co)


def test_every_category_is_placed_in_every_grid() -> None:
    """No category falls to manual dispatch for want of a unit, in town or village."""
    for grid in SNAP.directory.document.grids:
        for category in SNAP.catalogue:
            decide(category.code, grid.code)


# --- the directory: a township with villages


def test_the_shipped_directory_validates_with_a_township_and_its_villages() -> None:
    directory = Directory.load(RouterSettings().directory_file)
    assert directory.version >= 3
    doc = directory.document
    township = next(s for s in doc.streets if s.code == "qingshan")
    assert township.name == "青山镇"
    villages = [c for c in doc.communities if c.street == "qingshan"]
    assert {v.name for v in villages} == {"西河村", "东沟村", "南岭村"}
    for village in villages:
        committee = directory.find("village_committee", _place(directory, village.code))
        assert committee is not None
        assert committee.name.endswith("村民委员会")
        assert committee.level == Level.COMMUNITY
    # The villages' grids tile the township, and the township lies in the district.
    plane = LocalPlane.around(doc.areas())
    grids = [plane.shape(g) for g in doc.grids if g.community in {v.code for v in villages}]
    township_shape = plane.shape(township)
    assert township_shape is not None
    assert abs(unary_union(grids).area - township_shape.area) < 1.0
    district = plane.shape(doc.districts[0])
    assert district is not None
    assert district.covers(township_shape)
    # The old places keep their codes and polygons.
    heyuan = next(g for g in doc.grids if g.code == "HY-01")
    assert heyuan.polygon is not None
    assert heyuan.polygon[0] == (116.390, 39.900)


def _place(directory: Directory, community: str) -> Place:
    grid = next(g for g in directory.document.grids if g.community == community)
    place = directory.locate(Location(grid_code=grid.code))
    assert place is not None
    return place


def test_a_village_point_is_placed_in_its_village() -> None:
    place = SNAP.directory.locate(Location(lat=39.87, long=116.407))
    assert place is not None
    assert (place.street, place.community, place.grid) == ("qingshan", "donggou", "DG-01")
    by_name = SNAP.directory.locate(Location(address="东沟村村道口"))
    assert by_name is not None
    assert by_name.community == "donggou"


def test_the_village_committee_is_the_villages_grid_station_and_the_township_above_it() -> None:
    place = _place(SNAP.directory, "xihe")
    community, street = (
        SNAP.directory.supervisor(level, place) for level in (Level.COMMUNITY, Level.STREET)
    )
    assert community is not None
    assert community.id == "cwh-xihe"
    assert street is not None
    assert street.id == "qingshan-command"
    assert SNAP.directory.arbiter(place).id == "qingshan-command"
    # A city community has no village committee: its road goes to the city as before.
    assert decide("road_damage", "HY-01")[0] == "cg-yunxi"


# --- the stories (the probe texts of #17)


def test_a_village_road_goes_to_the_village_committee_and_escalates_to_the_township(
    snap: Snapshot,
) -> None:
    ticket = report(None, VILLAGE_ROAD_PROBE, Location(grid_code="DG-01"))
    outcome = handlers.route_submitted(ticket, snap)
    triaged = one(outcome, TicketTriaged)
    assert isinstance(triaged, TicketTriaged)
    assert (triaged.category, triaged.accepted) == ("road_damage", True)
    (lead,) = dispatches(outcome).values()
    assert (lead.unit_id, lead.role, lead.level) == ("cwh-donggou", Role.LEAD, Level.COMMUNITY)
    assert outcome.state is not None
    assert outcome.state.alternates == ("cg-yunxi", "zhujian-yunxi")  # if it declines
    escalated = escalation(
        ticket,
        "street",
        clock=ClockKind.RESOLUTION,
        from_level=Level.COMMUNITY,
        to_level=Level.STREET,
    )
    (supervisor,) = dispatches(handlers.escalate(escalated, outcome.state, snap)).values()
    assert (supervisor.unit_id, supervisor.role) == ("qingshan-command", Role.SUPERVISOR)


def test_unpaid_wages_go_to_the_labour_inspectors(snap: Snapshot) -> None:
    outcome = handlers.route_submitted(report(None, WAGES_PROBE), snap)
    assert set(dispatches(outcome)) == {"renshe-yunxi"}
    assert {d.category for d in dispatches(outcome).values()} == {"wage_arrears"}


@pytest.mark.parametrize(
    ("text", "category"),
    [
        (EXIT_SIGN_PROBE, "fire_box"),
        ("楼道里的安全出口指示灯坏了不亮", "fire_box"),
        ("骑电动车路过摔进坑里", "road_damage"),
        ("我骑电动车回家，路中间一个大坑差点摔倒", "road_damage"),
        (WAGES_PROBE, "wage_arrears"),
        (VILLAGE_ROAD_PROBE, "road_damage"),
        ("小区停水两天了，什么时候来水", "water_supply"),
        ("孩子明年上小学，入学需要什么材料", "education"),
        ("健身房关门跑路了，预付卡里还有三千块钱", "market_consumer"),
    ],
)
def test_the_keyword_layer_is_confident_and_right(
    keywords: KeywordTriage, text: str, category: str
) -> None:
    suggestion = keywords.classify(text)
    assert suggestion.category == category, suggestion.matched
    assert suggestion.confidence >= RouterSettings().triage_threshold


# --- danger downstream


def test_a_gas_pipe_dug_through_is_an_emergency_whatever_triage_says(snap: Snapshot) -> None:
    outcome = handlers.route_submitted(report(None, GAS_PROBE), snap)
    triaged = one(outcome, TicketTriaged)
    assert isinstance(triaged, TicketTriaged)
    assert triaged.danger
    assert "gas" in triaged.danger_kinds
    assert triaged.category == "emergency_hazard"
    lead = next(d for d in dispatches(outcome).values() if d.role == Role.LEAD)
    assert (lead.priority, lead.whistle) == (Priority.EMERGENCY, Whistle.EMERGENCY)


def test_an_unsure_danger_goes_first_in_the_manual_queue_with_a_10_minute_clock() -> None:
    unsure = dataclasses.replace(SNAP, triage=Unsure())
    earlier = handlers.route_submitted(report(None, "我就是想问问你们几点下班"), unsure)
    later = report(None, GAS_PROBE, ticket_id="T20260105000002")
    later = later.model_copy(update={"occurred_at": AT + timedelta(minutes=5)})
    outcome = handlers.route_submitted(later, unsure)
    queued = one(outcome, TicketNeedsManualDispatch)
    assert isinstance(queued, TicketNeedsManualDispatch)
    assert queued.priority == Priority.EMERGENCY
    assert queued.arbiter_id == "qingshi-command"
    assert queued.reason.startswith("险情 danger (gas")
    assert not dispatches(outcome)
    assert outcome.state is not None
    assert outcome.state.manual is not None
    assert earlier.state is not None
    assert earlier.state.manual is not None
    # Queued five minutes later, the danger still stands before the ordinary ticket.
    assert queue_score(outcome.state.manual) < queue_score(earlier.state.manual)
    # sla gives the command centre 10 minutes to dispatch an emergency by hand.
    policy = PolicyBook.load().policy(None, queued.priority, Level.STREET)
    assert policy.limit_seconds(ClockKind.MANUAL_DISPATCH) == 600


def test_emergencies_in_the_queue_stay_oldest_first() -> None:
    def entry(minutes: int, priority: Priority) -> ManualEntry:
        cause = TicketNeedsManualDispatch.caused_by(
            report(None, "x"),
            producer="router",
            occurred_at=AT + timedelta(minutes=minutes),
            category=None,
            reason="r",
            priority=priority,
        )
        return ManualEntry(arbiter_id="qingshi-command", reason="r", cause=cause)

    scores = [
        queue_score(entry(0, Priority.NORMAL)),
        queue_score(entry(1, Priority.EMERGENCY)),
        queue_score(entry(2, Priority.EMERGENCY)),
        queue_score(entry(3, Priority.URGENT)),
    ]
    assert sorted(range(4), key=scores.__getitem__) == [1, 2, 0, 3]


def test_a_life_at_risk_says_whom_to_ring_to_the_operator_and_the_resident() -> None:
    unsure = dataclasses.replace(SNAP, triage=Unsure())
    outcome = handlers.route_submitted(report(None, LIFE_AT_RISK), unsure)
    triaged = one(outcome, TicketTriaged)
    assert isinstance(triaged, TicketTriaged)
    assert triaged.danger
    assert "119" in triaged.call
    assert "120" in triaged.call
    assert triaged.call_message_zh
    assert "119" in triaged.call_message_zh
    queued = one(outcome, TicketNeedsManualDispatch)
    assert isinstance(queued, TicketNeedsManualDispatch)
    assert "请立即拨打119" in queued.reason  # the dispatcher reads it in the queue
    # The operator: the ticket view says it, and the ticket is an emergency.
    record = apply(record_of(AT), triaged)
    view = TicketView.of(record)
    assert view.call_now == triaged.call
    assert view.priority == Priority.EMERGENCY
    assert "请立即拨打119" in record.history[-1].summary
    # The resident: a message at once, naming the numbers.
    [notice] = notices_for(triaged, Audience())
    assert (notice.audience, notice.template) == ("resident", "call_now")
    text = Messages(ZoneInfo("Asia/Shanghai"), "https://x.example", "s").render("call_now", triaged)
    assert "请立即拨打119、120" in text
    assert triaged.ticket_id in text


def test_a_danger_without_a_life_at_risk_tells_nobody_to_ring(snap: Snapshot) -> None:
    triaged = one(handlers.route_submitted(report(None, GAS_PROBE), snap), TicketTriaged)
    assert isinstance(triaged, TicketTriaged)
    assert triaged.call == ()
    assert notices_for(triaged, Audience()) == []
    calm = one(handlers.route_submitted(report(None, WAGES_PROBE), snap), TicketTriaged)
    assert isinstance(calm, TicketTriaged)
    assert not calm.danger


def test_a_danger_report_is_not_dispatched_as_a_normal_ticket(snap: Snapshot) -> None:
    outcome = handlers.route_submitted(report(None, GAS_PROBE), snap)
    assert all(
        d.priority == Priority.EMERGENCY for d in outcome.events if isinstance(d, TicketDispatched)
    )


# --- SLA policies


@pytest.mark.parametrize(
    ("category", "limit", "calendar"),
    [
        ("gas_supply", 24 * HOUR, "24x7"),
        ("water_supply", 24 * HOUR, "24x7"),
        ("power_outage", 24 * HOUR, "24x7"),
        ("drainage", 24 * HOUR, "24x7"),
        ("elevator", 24 * HOUR, "24x7"),
        ("education", 7 * WORKING_DAY, "office_hours"),
        ("social_security", 7 * WORKING_DAY, "office_hours"),
        ("household_registration", 7 * WORKING_DAY, "office_hours"),
        ("market_consumer", 7 * WORKING_DAY, "office_hours"),
        ("illegal_construction", 15 * WORKING_DAY, "office_hours"),
        ("river_pollution", 48 * HOUR, "24x7"),
    ],
)
def test_the_policies_give_each_new_category_its_practice(
    category: str, limit: float, calendar: str
) -> None:
    catalogue = {c.code: c for c in SNAP.catalogue}
    priority = catalogue[category].default_priority
    policy = PolicyBook.load().policy(category, priority, Level.COMMUNITY)
    assert policy.limit_seconds(ClockKind.RESOLUTION) == limit
    assert policy.calendar.name == calendar
