"""Who hears about which event, with which message: a pure decision, no I/O."""

from chuishao.common.domain import Channel, Priority, Role
from chuishao.common.events import (
    Event,
    ReportLinked,
    SlaWarning,
    TicketDispatched,
    TicketEscalated,
    TicketResolved,
    TicketSubmitted,
)
from chuishao.notify.facts import TicketFacts
from chuishao.notify.jobs import Notice


def unit(unit_id: str, template: str) -> Notice:
    return Notice.model_validate({"audience": "unit", "recipient": unit_id, "template": template})


def reporter_of(ticket_id: str, template: str) -> Notice:
    return Notice.model_validate(
        {"audience": "resident", "recipient": ticket_id, "template": template}
    )


def notices_for(event: Event, facts: TicketFacts) -> list[Notice]:
    match event:
        case TicketSubmitted(channel=Channel.BATCH_IMPORT):
            return []  # an imported hotline ledger: those callers were answered long ago
        case TicketSubmitted():
            return [reporter_of(event.ticket_id, "receipt")]
        case TicketDispatched(role=Role.SUPERVISOR):
            return [unit(event.unit_id, "supervision")]
        case TicketDispatched():
            return [unit(event.unit_id, "dispatch")]
        case SlaWarning():
            return [unit(unit_id, "urge") for unit_id in urged_units(event, facts)]
        case TicketEscalated():
            return [unit(unit_id, "escalation") for unit_id in event.units_summoned]
        case TicketResolved():
            reporters = (event.ticket_id, *facts.linked)
            return [reporter_of(ticket_id, "resolved") for ticket_id in reporters]
        case ReportLinked():
            # Published on the earlier, open ticket; duplicate_ticket_id is the new report,
            # whose reporter is told (see docs/intake.md).
            return [reporter_of(event.duplicate_ticket_id, "linked")]
    return []


def urged_units(warning: SlaWarning, facts: TicketFacts) -> list[str]:
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


def priority_of(event: Event, facts: TicketFacts) -> Priority:
    if isinstance(event, TicketSubmitted | TicketDispatched):
        return event.priority
    return facts.priority or Priority.NORMAL
