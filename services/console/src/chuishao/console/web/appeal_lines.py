"""Appeals (申诉) as the console shows them: on the ticket page (tickets.py) and in the
申诉审核 list (appeals.py). Wording and what a clerk's unit may appeal; intake decides."""

from dataclasses import dataclass
from typing import Any

from chuishao.common.domain import AppealOutcome, AppealSubject
from chuishao.common.roles import PersonRole
from chuishao.console.auth import Person
from chuishao.console.service import Console
from chuishao.console.web.photos import photo_src
from chuishao.console.web.wording import clock_time

# Who decides appeals; a street's command centre only reads them.
DECIDERS = frozenset({PersonRole.DISTRICT, PersonRole.CITY})
SUBJECTS: dict[str, str] = {
    AppealSubject.RATING: "不满意评价",
    AppealSubject.BREACH: "超期",
    AppealSubject.DECLINE: "退单",
    AppealSubject.FORCE_MAJEURE: "不可抗力",
}
OUTCOMES: dict[str | None, str] = {
    None: "待审核",
    AppealOutcome.UPHELD: "已支持（免责）",
    AppealOutcome.REJECTED: "已驳回",
}
# What of its part a unit may appeal, by the flag intake keeps on its assignment.
APPEALABLE = {
    AppealSubject.RATING: "rated_unsatisfied",
    AppealSubject.BREACH: "breached",
    AppealSubject.DECLINE: "declined",
}


@dataclass(frozen=True)
class AppealLine:
    ticket_id: str
    appeal_id: str
    unit: str
    subject: str
    reason: str
    filed_at: str
    filed_by: str | None
    outcome: str  # 待审核 / 已支持（免责） / 已驳回
    pending: bool
    upheld: bool
    decided_at: str
    note: str
    evidence: list[tuple[str, str]]  # (photo, thumbnail)
    category: str = ""
    street: str = ""
    status: str = ""


def line(console: Console, ticket_id: str, appeal: dict[str, Any], **extra: str) -> AppealLine:
    outcome = appeal.get("outcome")
    return AppealLine(
        ticket_id=ticket_id,
        appeal_id=str(appeal["appeal_id"]),
        unit=console.unit_name(appeal["unit_id"]),
        subject=SUBJECTS.get(appeal["subject"], appeal["subject"]),
        reason=appeal.get("reason", ""),
        filed_at=clock_time(appeal.get("filed_at")),
        filed_by=appeal.get("filed_by"),
        outcome=OUTCOMES.get(outcome, str(outcome)),
        pending=outcome is None,
        upheld=outcome == AppealOutcome.UPHELD,
        decided_at=clock_time(appeal.get("decided_at")),
        note=appeal.get("note", ""),
        evidence=[
            (photo_src(u), photo_src(u, thumb=True)) for u in appeal.get("evidence_urls", [])
        ],
        **extra,
    )


def appealable(ticket: dict[str, Any], unit: str | None) -> list[tuple[str, str]]:
    """(subject, its name) the clerk's unit may appeal now: what counted against its part,
    and force majeure, less what has an appeal pending or upheld (intake decides)."""
    part = next((a for a in ticket.get("assignments", []) if a["unit_id"] == unit), None)
    if part is None:
        return []
    taken = {
        a["subject"]
        for a in ticket.get("appeals", [])
        if a["unit_id"] == unit and a.get("outcome") in (None, AppealOutcome.UPHELD)
    }
    return [
        (subject.value, SUBJECTS[subject])
        for subject in AppealSubject
        if subject not in taken and (subject not in APPEALABLE or part.get(APPEALABLE[subject]))
    ]


def ticket_context(console: Console, person: Person, ticket: dict[str, Any]) -> dict[str, Any]:
    """The ticket page's 申诉 section (intake already left out other units' appeals)."""
    ticket_id = ticket["ticket_id"]
    return {
        "appeals": [line(console, ticket_id, a) for a in ticket.get("appeals", [])],
        "appeal_subjects": (
            appealable(ticket, person.unit) if person.role == PersonRole.CLERK else []
        ),
        "may_decide_appeals": person.role in DECIDERS,
        "appeal_subject_names": SUBJECTS,
    }
