"""Who hears about which event, with which message: a pure decision, no I/O."""

from chuishao.common.domain import Channel, ClockKind, Priority, Role
from chuishao.common.events import (
    Event,
    ReportLinked,
    SlaWarning,
    TicketDispatched,
    TicketEscalated,
    TicketResolved,
    TicketSubmitted,
    TicketTriaged,
    TicketUrged,
)
from chuishao.notify.audience import Audience
from chuishao.notify.jobs import Notice


def unit(unit_id: str, template: str) -> Notice:
    return Notice.model_validate({"audience": "unit", "recipient": unit_id, "template": template})


def reporter_of(ticket_id: str, template: str) -> Notice:
    return Notice.model_validate(
        {"audience": "resident", "recipient": ticket_id, "template": template}
    )


def duty_phone(unit_id: str, template: str) -> Notice:
    return Notice.model_validate(
        {"audience": "duty_phone", "recipient": unit_id, "template": template}
    )


def notices_for(event: Event, facts: Audience) -> list[Notice]:
    match event:
        case TicketSubmitted(channel=Channel.BATCH_IMPORT):
            return []  # an imported hotline ledger: those callers were answered long ago
        case TicketSubmitted() if event.answered is not None:
            return []  # 直接答复: the caller had the answer on the phone
        case TicketSubmitted():
            return [reporter_of(event.ticket_id, "receipt")]
        case TicketDispatched(role=Role.SUPERVISOR):
            return [unit(event.unit_id, "supervision")]
        case TicketDispatched():
            return [unit(event.unit_id, "dispatch")]
        case SlaWarning(clock=ClockKind.REPORT_FOR_DUTY, unit_id=str(unit_id)):
            # Not reported for duty at the warning point (sla's policy: 3/4 of the report-in
            # time by default) — the clock runs only until the unit reports, so a warning
            # means it has not. The webhook may land where nobody looks and the console
            # page may be closed: the duty desk's phone gets an SMS too.
            return [unit(unit_id, "urge"), duty_phone(unit_id, "report_reminder")]
        case SlaWarning():
            return [unit(unit_id, "urge") for unit_id in urged_units(event, facts)]
        case TicketEscalated():
            return [unit(unit_id, "escalation") for unit_id in event.units_summoned]
        case TicketUrged():
            # A command centre's 督办 by hand: the unit hears it on its own subject.
            return [unit(event.unit_id, "urged_by_hand")]
        case TicketResolved():
            reporters = (event.ticket_id, *facts.linked)
            return [reporter_of(ticket_id, "resolved") for ticket_id in reporters]
        case TicketTriaged() if event.call:
            # The danger detector found a life at risk: ring 119/110/120 now, not wait.
            return [reporter_of(event.ticket_id, "call_now")]
        case ReportLinked():
            # Published on the earlier, open ticket; duplicate_ticket_id is the new report,
            # whose reporter is told (see docs/intake.md).
            return [reporter_of(event.duplicate_ticket_id, "linked")]
    return []


def urged_units(warning: SlaWarning, facts: Audience) -> list[str]:
    """The warned unit; for a ticket-wide clock, whoever holds the ticket at that level."""
    if warning.unit_id is not None:
        return [warning.unit_id]
    holding = [
        unit_id
        for unit_id, (role, level) in facts.units.items()
        if level == warning.level and role in (Role.LEAD, Role.SUPERVISOR)
    ]
    leads = [unit_id for unit_id, (role, _) in facts.units.items() if role == Role.LEAD]
    return sorted(holding or leads)


def priority_of(event: Event, facts: Audience) -> Priority:
    if isinstance(event, TicketSubmitted | TicketDispatched):
        return event.priority
    return facts.priority or Priority.NORMAL
