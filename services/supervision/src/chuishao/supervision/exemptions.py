"""Exemptions (免责): what an upheld appeal (申诉) takes out of a unit's counts. Pure: a
unit's counts of one ticket in, the counts it is assessed on out (docs/supervision.md,
"Appeals and exemptions").

- `rating`: the unsatisfied ratings naming the unit when it appealed leave its `rated`,
  `rated_unsatisfied` and `feedback_ended` (so its 满意率 and 回访率 no longer see them).
- `breach`: its late report-in counts as on time (`responded_on_time`), and so do its
  sign-off (`resolved_on_time`) and `overdue`, while the ticket is in the cycle it
  appealed in (a later reopening is measured again).
- `decline` (a justified 退单) and `force_majeure` (不可抗力): the ticket leaves every count
  of the unit, as if it had never been sent to it.

The appeal counts themselves: `appeals` filed, `appeals_pending`, `exemptions` upheld.
The ticket's own counts (street, district, city) are the tickets as they happened and
do not change; they count the ticket's appeals and exemptions too.
"""

from chuishao.common.domain import AppealOutcome, AppealSubject, Rating
from chuishao.supervision.ticket import AppealFact, SupervisedTicket

WHOLE = frozenset({AppealSubject.DECLINE, AppealSubject.FORCE_MAJEURE})


def appeal_counts(appeals: list[AppealFact]) -> dict[str, int]:
    return {
        "appeals": len(appeals),
        "appeals_pending": sum(a.outcome is None for a in appeals),
        "exemptions": sum(a.outcome == AppealOutcome.UPHELD for a in appeals),
    }


def ticket_appeals(facts: SupervisedTicket) -> dict[str, int]:
    """The ticket's appeals, whichever unit filed them (its street's and the city's)."""
    return appeal_counts(list(facts.appeals.values()))


def exempted(facts: SupervisedTicket, unit_id: str, counts: dict[str, int]) -> dict[str, int]:
    """A unit's counts of this ticket once its upheld appeals are taken out."""
    own = [a for a in facts.appeals.values() if a.unit_id == unit_id]
    if not own:
        return counts
    upheld = [a for a in own if a.outcome == AppealOutcome.UPHELD]
    tally = appeal_counts(own)
    if any(a.subject in WHOLE for a in upheld):
        return tally
    result = dict(counts)
    for appeal in upheld:
        if appeal.subject == AppealSubject.RATING:
            taken = min(appeal.unsatisfied, result.get(f"rated_{Rating.UNSATISFIED}", 0))
            for name in ("rated", f"rated_{Rating.UNSATISFIED}", "feedback_ended"):
                result[name] = result.get(name, 0) - taken
        elif appeal.subject == AppealSubject.BREACH:
            result["responded_on_time"] = result.get("responded", 0)
            if facts.cycle == appeal.cycle:
                result["resolved_on_time"] = result.get("resolved", 0)
                result["overdue"] = 0
    return {**result, **tally}
