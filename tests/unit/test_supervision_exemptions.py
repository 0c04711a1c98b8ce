"""Exemptions (免责) in the counters, pure: what each upheld appeal takes out of its unit's
counts of the ticket, and what a pending or rejected one leaves (docs/supervision.md,
"Appeals and exemptions")."""

from chuishao.common.domain import Level, Rating, Role
from chuishao.supervision.counters import contributions
from chuishao.supervision.ticket import AppealFact, RatingGiven, SupervisedTicket, UnitPart

GRID, BUS = "grid-heyuan", "bus-yunxi"


def handled(**appeals: AppealFact) -> SupervisedTicket:
    """Both units answered late and signed off; rated 不满意 once, then 满意."""
    part = {"role": Role.LEAD, "level": Level.COMMUNITY, "acknowledged_cycle": 1}
    return SupervisedTicket(
        ticket_id="T20260101000001",
        day="2026-01-01",
        street="qingshi",
        dispatched=True,
        cycle=1,
        units={
            unit: UnitPart(
                **part,
                responded_at="2026-01-01T01:00:00Z",
                responded_late=True,
                signed_off_at="2026-01-01T03:00:00Z",
                signed_off_late=True,
            )
            for unit in (GRID, BUS)
        },
        ratings=[
            RatingGiven(rating=Rating.UNSATISFIED, units=(GRID, BUS)),
            RatingGiven(rating=Rating.SATISFIED, units=(GRID, BUS)),
        ],
        appeals=appeals,
    )


def unit(facts: SupervisedTicket, unit_id: str = GRID) -> dict[str, int]:
    return {
        name: n for (scope, name), n in contributions(facts).items() if scope == f"unit:{unit_id}"
    }


def test_a_pending_or_rejected_appeal_changes_no_rate() -> None:
    plain = unit(handled())
    for outcome in (None, "rejected"):
        appeal = AppealFact(unit_id=GRID, subject="rating", outcome=outcome, unsatisfied=1)
        counts = unit(handled(a=appeal))
        assert {k: n for k, n in counts.items() if not k.startswith(("appeal", "exempt"))} == plain
        assert counts["appeals"] == 1
        assert "exemptions" not in counts
    assert plain["rated"] == 2


def test_an_upheld_rating_appeal_leaves_the_rating_of_its_unit_only() -> None:
    appeal = AppealFact(unit_id=GRID, subject="rating", outcome="upheld", unsatisfied=1)
    facts = handled(a=appeal)
    counts = unit(facts)
    assert (counts["rated"], counts["satisfied"], counts.get("rated_unsatisfied", 0)) == (1, 1, 0)
    assert counts["feedback_ended"] == 1
    assert counts["exemptions"] == 1
    assert unit(facts, BUS)["rated"] == 2  # the other unit's rating stands
    assert contributions(facts)[("street:qingshi", "rated")] == 2  # the tickets as they were
    assert contributions(facts)[("street:qingshi", "exemptions")] == 1


def test_an_upheld_breach_appeal_makes_the_unit_on_time_in_its_cycle() -> None:
    plain = unit(handled())
    assert "responded_on_time" not in plain
    assert "resolved_on_time" not in plain
    same = unit(handled(a=AppealFact(unit_id=GRID, subject="breach", outcome="upheld", cycle=1)))
    assert same["responded_on_time"] == same["responded"] == 1
    assert same["resolved_on_time"] == 1
    earlier = AppealFact(unit_id=GRID, subject="breach", outcome="upheld", cycle=0)
    older = unit(handled(a=earlier))  # a later cycle is measured again
    assert older["responded_on_time"] == 1
    assert "resolved_on_time" not in older


def test_force_majeure_and_a_justified_decline_take_the_whole_ticket_out() -> None:
    for subject in ("force_majeure", "decline"):
        counts = unit(handled(a=AppealFact(unit_id=GRID, subject=subject, outcome="upheld")))
        assert counts == {"appeals": 1, "exemptions": 1}
