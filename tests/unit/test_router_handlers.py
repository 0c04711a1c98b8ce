"""The routing steps as pure functions: event and state in, events and state out."""

from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest

from chuishao.common.clock import ManualClock
from chuishao.common.domain import (
    Channel,
    ClockKind,
    DeclineReason,
    Level,
    Location,
    Priority,
    Role,
    Whistle,
)
from chuishao.common.events import (
    Event,
    TicketDeclined,
    TicketDispatched,
    TicketEscalated,
    TicketNeedsManualDispatch,
    TicketReopened,
    TicketSubmitted,
    TicketTransferred,
    TicketTriaged,
    WhistleBlown,
)
from chuishao.router import handlers, manual
from chuishao.router.directory import Directory
from chuishao.router.emit import RoutingResult
from chuishao.router.plugins_manager import Dispatcher, plugin_manager
from chuishao.router.settings import RouterSettings
from chuishao.router.snapshot import RoutingPolicy, Snapshot
from chuishao.router.state import TicketRouting
from chuishao.router.triage import Vocabulary
from chuishao.router.triage_model import default_model

AT = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def snapshot(**policy: float) -> Snapshot:
    settings = RouterSettings()
    dispatcher = Dispatcher(plugin_manager(), Directory.load(settings.directory_file))
    return Snapshot.build(
        dispatcher,
        Vocabulary.load(settings.triage_file),
        RoutingPolicy(**policy),  # type: ignore[arg-type]
        ManualClock(AT),
    )


SNAP = snapshot()


def report(
    category: str | None,
    description: str,
    location: Location | None = None,
    ticket_id: str = "T20260105000001",
    priority: Priority = Priority.NORMAL,
) -> TicketSubmitted:
    return TicketSubmitted.first(
        producer="intake",
        clock=ManualClock(AT),
        ticket_id=ticket_id,
        category=category,
        description=description,
        priority=priority,
        channel=Channel.HOTLINE_12345,
        location=location or Location(grid_code="HY-01"),
    )


def dispatches(outcome: RoutingResult) -> dict[str, TicketDispatched]:
    return {e.unit_id: e for e in outcome.events if isinstance(e, TicketDispatched)}


E = TypeVar("E", bound=Event)


def by_intake(kind: type[E], cause: Event, **fields: Any) -> E:
    """What intake emits about the ticket of `cause`, at AT."""
    return kind.caused_by(cause, producer="intake", occurred_at=AT, **fields)


def escalation(cause: Event, discriminator: str = "", **fields: Any) -> TicketEscalated:
    """sla's escalation of the ticket of `cause` at AT (its clock, from_level and to_level
    in `fields`), a minute overdue unless `fields` say otherwise."""
    fields = {"overdue_seconds": 60} | fields
    return TicketEscalated.caused_by(
        cause, producer="sla", occurred_at=AT, discriminator=discriminator, **fields
    )


def one(outcome: RoutingResult, kind: type[Event]) -> Event:
    found = [e for e in outcome.events if isinstance(e, kind)]
    assert len(found) == 1, outcome.events
    return found[0]


def routed(ticket: TicketSubmitted, snap: Snapshot = SNAP) -> TicketRouting:
    outcome = handlers.route_submitted(ticket, snap)
    assert outcome.state is not None
    return outcome.state


def decline(
    state: TicketRouting, unit_id: str, bounces: int, cause: Event | None = None
) -> TicketDeclined:
    return TicketDeclined.caused_by(
        cause or report(state.category, state.description),
        producer="intake",
        occurred_at=AT,
        discriminator=f"{unit_id}:{bounces}",
        unit_id=unit_id,
        reason_code=DeclineReason.NOT_OUR_RESPONSIBILITY,
        note="不归我们管",
        bounces=bounces,
    )


def test_a_categorised_report_is_dispatched_with_the_place_on_it() -> None:
    outcome = handlers.route_submitted(report("fire_box", "消防箱玻璃碎了"), SNAP)
    (event,) = outcome.events
    assert isinstance(event, TicketDispatched)
    assert (event.unit_id, event.role) == ("grid-heyuan", Role.LEAD)
    assert event.unit_name == "和园社区网格站"
    assert (event.street, event.grid_code) == ("qingshi", "HY-01")
    assert outcome.state is not None
    assert outcome.state.assignments[0].unit_id == "grid-heyuan"


def test_a_life_at_risk_in_a_categorised_report_makes_it_an_emergency_all_the_same() -> None:
    # The reporter picked "road damage"; the words say it is smoking, with live wires and
    # somebody nearly electrocuted.
    outcome = handlers.route_submitted(
        report("road_damage", "路面鼓包还在冒烟，电线裸露，有人差点触电"), SNAP
    )
    triaged = one(outcome, TicketTriaged)
    assert isinstance(triaged, TicketTriaged)
    assert (triaged.category, triaged.accepted, triaged.danger) == ("road_damage", True, True)
    assert outcome.events[0] is triaged  # before the dispatches: intake raises the priority
    assert {e.priority for e in dispatches(outcome).values()} == {Priority.EMERGENCY}
    # A hazard with nobody at risk keeps the reporter's priority (it is dispatched at once).
    for words in ("路面有个坑，车开过去颠", "学校门口路面塌陷，有个大坑"):
        calm = handlers.route_submitted(report("road_damage", words), SNAP)
        assert not [e for e in calm.events if isinstance(e, TicketTriaged)], words
        assert Priority.EMERGENCY not in {e.priority for e in dispatches(calm).values()}


def test_a_repeated_step_emits_the_same_ids() -> None:
    ticket = report("traffic_obstruction", "公交车排队加气堵路", Location(grid_code="TY-01"))
    first = handlers.route_submitted(ticket, SNAP)
    again = handlers.route_submitted(ticket, SNAP)
    assert [e.event_id for e in first.events] == [e.event_id for e in again.events]
    assert len({e.event_id for e in first.events}) == len(first.events)


def test_a_coordination_whistle_summons_every_unit_at_once() -> None:
    ticket = report("traffic_obstruction", "公交车排队加气堵路", Location(grid_code="TY-01"))
    outcome = handlers.route_submitted(ticket, SNAP)
    whistle = one(outcome, WhistleBlown)
    assert isinstance(whistle, WhistleBlown)
    assert whistle.whistle == Whistle.COORDINATION
    assert set(whistle.units) == {"jiaojing-yunxi", "bus-yunxi", "jinhua-wuye", "grid-taoyuan"}
    assert whistle.report_within_seconds == 2 * 3600
    assert set(dispatches(outcome)) == set(whistle.units)
    assert {e.whistle for e in dispatches(outcome).values()} == {Whistle.COORDINATION}
    assert outcome.events[0] is whistle  # the whistle first, then who must report


def test_an_emergency_whistle_asks_for_report_within_30_minutes() -> None:
    outcome = handlers.route_submitted(report("emergency_hazard", "路面鼓起冒烟"), SNAP)
    whistle = one(outcome, WhistleBlown)
    assert isinstance(whistle, WhistleBlown)
    assert (whistle.whistle, whistle.report_within_seconds) == (Whistle.EMERGENCY, 1800)
    assert {e.priority for e in dispatches(outcome).values()} == {Priority.EMERGENCY}
    assert len(dispatches(outcome)) == 4


def test_a_confident_triage_routes_and_says_how_it_decided() -> None:
    outcome = handlers.route_submitted(report(None, "楼上卫生间漏水，我家天花板发霉了"), SNAP)
    triaged = one(outcome, TicketTriaged)
    assert isinstance(triaged, TicketTriaged)
    assert (triaged.category, triaged.accepted) == ("water_leak", True)
    # The trained model's version (make triage-model), recorded as the triage method.
    model = default_model()
    assert model is not None
    assert triaged.method == model.version
    assert set(dispatches(outcome)) == {"grid-heyuan", "wanjia-wuye"}
    assert {e.category for e in dispatches(outcome).values()} == {"water_leak"}


def test_an_unsure_triage_goes_to_the_street_command_centre() -> None:
    outcome = handlers.route_submitted(report(None, "我就是想问问你们几点下班"), SNAP)
    triaged = one(outcome, TicketTriaged)
    assert isinstance(triaged, TicketTriaged)
    assert not triaged.accepted
    manual_event = one(outcome, TicketNeedsManualDispatch)
    assert isinstance(manual_event, TicketNeedsManualDispatch)
    assert manual_event.reason.endswith("→ qingshi-command")
    assert outcome.state is not None
    assert outcome.state.manual is not None
    assert outcome.state.manual.arbiter_id == "qingshi-command"
    assert not dispatches(outcome)


def test_an_unplaceable_report_goes_to_the_district() -> None:
    far = Location(lat=31.23, long=121.47)
    outcome = handlers.route_submitted(report("fire_box", "消防箱坏了", far), SNAP)
    manual_event = one(outcome, TicketNeedsManualDispatch)
    assert isinstance(manual_event, TicketNeedsManualDispatch)
    assert "no rule places category fire_box at yunxi" in manual_event.reason
    assert manual_event.reason.endswith("→ district-yunxi")
    # A district-wide department needs no street to be found.
    wages = handlers.route_submitted(report("wage_arrears", "拖欠工资", far), SNAP)
    assert set(dispatches(wages)) == {"renshe-yunxi"}


def test_a_decline_goes_to_the_next_candidate_never_back() -> None:
    state = routed(report("oil_fumes_noise", "餐馆油烟"))
    outcome = handlers.redispatch_declined(decline(state, "zhifa-qingshi", 1), state, SNAP)
    (event,) = dispatches(outcome).values()
    assert (event.unit_id, event.role) == ("zhifa-yunxi", Role.LEAD)
    assert event.reason.startswith("re-dispatched: zhifa-qingshi declined (not_our_responsibility")
    assert outcome.state is not None
    assert outcome.state.declined == ("zhifa-qingshi",)
    assert outcome.state.assigned() == ("zhifa-yunxi",)


def test_the_second_decline_goes_to_the_street_to_arbitrate() -> None:
    state = routed(report("oil_fumes_noise", "餐馆油烟"))
    first = handlers.redispatch_declined(decline(state, "zhifa-qingshi", 1), state, SNAP)
    assert first.state is not None
    second = handlers.redispatch_declined(decline(first.state, "zhifa-yunxi", 2), first.state, SNAP)
    event = one(second, TicketNeedsManualDispatch)
    assert isinstance(event, TicketNeedsManualDispatch)
    assert "declined 2 times" in event.reason
    assert event.reason.endswith("→ qingshi-command")
    assert not dispatches(second)


def test_every_routing_state_reads_back_from_what_redis_keeps() -> None:
    """Packed (chuishao.common.packing) or JSON stored before packing: the same state,
    the triage's suggestions and the manual queue's entry with its event included."""
    state = routed(report("oil_fumes_noise", "餐馆油烟"))
    declined = handlers.redispatch_declined(decline(state, "zhifa-qingshi", 1), state, SNAP)
    unsure = handlers.route_submitted(report(None, "我就是想问问你们几点下班"), SNAP)
    assert declined.state is not None
    assert unsure.state is not None
    assert unsure.state.manual is not None
    for each in (state, declined.state, unsure.state):
        assert TicketRouting.from_stored(each.stored()) == each
        assert TicketRouting.from_stored(each.model_dump_json()) == each
        assert len(each.stored()) < 0.7 * len(each.model_dump_json().encode())


@pytest.mark.parametrize("max_bounces", [1, 2, 3, 5])
def test_decline_loops_are_bounded(max_bounces: int) -> None:
    snap = snapshot(max_bounces=max_bounces)
    state = routed(report("road_damage", "路面塌陷"), snap)
    summoned = ["cg-yunxi"]
    for bounce in range(1, 20):
        lead = next(a.unit_id for a in state.assignments if a.role == Role.LEAD)
        outcome = handlers.redispatch_declined(decline(state, lead, bounce), state, snap)
        assert outcome.state is not None
        state = outcome.state
        new = list(dispatches(outcome))
        if not new:
            assert isinstance(outcome.events[0], TicketNeedsManualDispatch)
            break
        assert new[0] not in summoned  # the same unit never gets it straight back
        summoned += new
    assert bounce <= max_bounces
    assert state.manual is not None


def test_a_stale_decline_changes_nothing() -> None:
    state = routed(report("fire_box", "消防箱坏了"))
    outcome = handlers.redispatch_declined(decline(state, "cg-yunxi", 1), state, SNAP)
    assert outcome.events == []
    assert outcome.state == state


def test_a_reopened_ticket_goes_back_to_the_unit_that_resolved_it() -> None:
    state = routed(report("fire_box", "消防箱坏了"))
    reopened = by_intake(
        TicketReopened,
        report("fire_box", "消防箱坏了"),
        complaint="玻璃还是碎的",
        units=("grid-heyuan",),
        reopen_count=1,
    )
    outcome = handlers.reopen(reopened, state, SNAP)
    (event,) = dispatches(outcome).values()
    assert (event.unit_id, event.role) == ("grid-heyuan", Role.LEAD)
    assert event.reason == "reopened (#1) after an unsatisfied rating: 玻璃还是碎的"
    assert event.description == "消防箱坏了"
    assert event.causation_id == reopened.event_id


def test_a_transfer_hands_the_part_and_its_role_to_the_new_unit() -> None:
    state = routed(report("fire_hazard", "楼道充电"))
    moved = by_intake(
        TicketTransferred,
        report("fire_hazard", "楼道充电"),
        from_unit_id="wanjia-wuye",
        to_unit_id="xiaofang-yunxi",
        reason="需要消防检查",
    )
    outcome = handlers.transfer(moved, state, SNAP)
    (event,) = dispatches(outcome).values()
    assert (event.unit_id, event.role) == ("xiaofang-yunxi", Role.CO)
    assert outcome.state is not None
    assert set(outcome.state.assigned()) == {"grid-heyuan", "xiaofang-yunxi"}
    unknown = moved.model_copy(update={"to_unit_id": "nobody", "event_id": "e2"})
    assert isinstance(handlers.transfer(unknown, state, SNAP).events[0], TicketNeedsManualDispatch)


@pytest.mark.parametrize(
    ("to_level", "unit_id"),
    [
        (Level.STREET, "qingshi-command"),
        (Level.DISTRICT, "district-yunxi"),
        (Level.CITY, "city-12345"),
    ],
)
def test_an_escalation_summons_the_supervisor_of_the_new_level(
    to_level: Level, unit_id: str
) -> None:
    state = routed(report("fire_box", "消防箱坏了"))
    escalated = escalation(
        report("fire_box", "消防箱坏了"),
        to_level,
        clock=ClockKind.RESOLUTION,
        from_level=Level.COMMUNITY,
        to_level=to_level,
        overdue_seconds=120,
    )
    outcome = handlers.escalate(escalated, state, SNAP)
    (event,) = dispatches(outcome).values()
    assert (event.unit_id, event.role, event.level) == (unit_id, Role.SUPERVISOR, to_level)
    assert outcome.state is not None
    again = handlers.escalate(escalated, outcome.state, SNAP)
    assert again.events == []  # already supervising


def test_the_centre_assigns_a_queued_ticket_by_hand() -> None:
    queued = handlers.route_submitted(report(None, "我就是想问问你们几点下班"), SNAP).state
    assert queued is not None
    assert queued.manual is not None
    command = manual.AssignTicket(
        ticket_id=queued.ticket_id,
        lead="renshe-yunxi",
        co=("grid-heyuan",),
        category="wage_arrears",
    )
    outcome = manual.assign(command, "qingshi-command", queued, SNAP)
    assert set(dispatches(outcome)) == {"renshe-yunxi", "grid-heyuan"}
    assert {e.causation_id for e in outcome.events} == {queued.manual.cause.event_id}
    assert outcome.state is not None
    assert outcome.state.manual is None
    assert outcome.state.category == "wage_arrears"
    # A retried command is answered without dispatching again.
    assert manual.assign(command, "qingshi-command", outcome.state, SNAP).events == []


@pytest.mark.parametrize(
    ("change", "centre", "code"),
    [
        ({}, "liuan-command", "not_yours"),
        ({"category": None}, "qingshi-command", "category_required"),
        ({"category": "ufo"}, "qingshi-command", "unknown_category"),
        ({"lead": "nobody"}, "qingshi-command", "unknown_unit"),
    ],
)
def test_a_wrong_assignment_is_refused(change: dict[str, object], centre: str, code: str) -> None:
    queued = handlers.route_submitted(report(None, "我就是想问问你们几点下班"), SNAP).state
    assert queued is not None
    fields = {"ticket_id": queued.ticket_id, "lead": "renshe-yunxi", "category": "wage_arrears"}
    command = manual.AssignTicket.model_validate(fields | change)
    with pytest.raises(manual.AssignmentRejected) as refused:
        manual.assign(command, centre, queued, SNAP)
    assert refused.value.code == code
