"""Every NATS subject name, in one place.

Ticket events:   ticket.<kind>.<ticket_id>          (stream TICKETS)
Unit deliveries: dept.<unit_id>.<kind>.<ticket_id>  (stream UNITS)
Dead letters:    dlq.<consumer>                     (stream DEADLETTER)
Requests:        cmd.<verb>                         (core NATS request/reply)
Unit commands:   cmd.unit.<unit_id>.<verb>          (a unit's NATS user may publish only its own)
Internal:        internal.<service>.<query>         (service-to-service request/reply)
Notify jobs:     notify.job.<channel>.<ticket_id>   (stream NOTIFY_JOBS)
"""

from chuishao.common.events import Event

TICKET_EVENTS = "ticket.>"
UNIT_DELIVERIES = "dept.>"
DEAD_LETTERS = "dlq.>"

SUBMIT_REPORT = "cmd.submit"
REPORTER_CONTACT = "internal.intake.reporter_contact"
SLA_TICKET_DEADLINES = "internal.sla.deadlines"
SLA_OVERDUE = "internal.sla.overdue"
NOTIFY_JOBS = "notify.job.>"
DELIVERY_LOG = "internal.notify.delivery_log"


def unit_command(unit_id: str, verb: str) -> str:
    return f"cmd.unit.{unit_id}.{verb}"


def ticket_event(kind: str, ticket_id: str = "*") -> str:
    return f"ticket.{kind}.{ticket_id}"


def for_event(event: Event) -> str:
    return ticket_event(event.kind, event.ticket_id)


def unit_delivery(unit_id: str, kind: str, ticket_id: str) -> str:
    return f"dept.{unit_id}.{kind}.{ticket_id}"


def unit_inbox(unit_id: str) -> str:
    """Everything addressed to one unit: what its NATS user may subscribe to."""
    return f"dept.{unit_id}.>"


def dead_letter(consumer: str) -> str:
    return f"dlq.{consumer}"


def notify_job(channel: str, ticket_id: str) -> str:
    """One outbound delivery notify still has to make (a webhook call, a resident message)."""
    return f"notify.job.{channel}.{ticket_id}"
