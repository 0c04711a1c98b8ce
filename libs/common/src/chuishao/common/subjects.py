"""Every NATS subject name and pattern, with its parser, in one place.

Ticket events:     ticket.<kind>.<ticket_id>            (stream TICKETS)
Unit deliveries:   dept.<unit_id>.<kind>.<ticket_id>    (stream UNITS)
Dead letters:      dlq.<consumer>                       (stream DEADLETTER)
Requests:          cmd.<verb>                           (core NATS request/reply)
Unit commands:     cmd.unit.<unit_id>.<verb>            (a unit may publish only its own)
Manual queue:      cmd.unit.<centre_id>.manual.<verb>   (the router; five tokens, so the
                                                         unit commands never match it)
Operator commands: cmd.operator.<name>.<verb>           (a 12345 operator for a resident)
Internal:          internal.<service>.<query>           (service-to-service request/reply)
Notify jobs:       notify.job.<channel>.<ticket_id>     (stream NOTIFY_JOBS)
Points:            points.exchanged.<reporter_ref>      (stream POINTS)

Nothing else in the project spells a subject: a handler subscribes to a pattern named
here and reads the tokens back with the parser beside it.
"""

from collections.abc import Iterable

from chuishao.common.events import Event

TICKET_EVENTS = "ticket.>"
UNIT_DELIVERIES = "dept.>"
DEAD_LETTERS = "dlq.>"

SUBMIT_REPORT = "cmd.submit"
UNIT_COMMANDS = "cmd.unit.*.*"
MANUAL_COMMANDS = "cmd.unit.*.manual.*"
OPERATOR_COMMANDS = "cmd.operator.*.*"
REPORTER_CONTACT = "internal.intake.reporter_contact"
SLA_TICKET_DEADLINES = "internal.sla.deadlines"
SLA_OVERDUE = "internal.sla.overdue"
NOTIFY_JOBS = "notify.job.>"
DELIVERY_LOG = "internal.notify.delivery_log"
POINTS_EVENTS = "points.>"
# A clerk's exchange of points for goods, and a reporter's balance and history (points).
POINTS_EXCHANGE = "cmd.points.exchange"
POINTS_ACCOUNT = "internal.points.account"
# The category suggestion (and danger flag) for words being typed on a filing form (the
# console asks, the router answers), and a one-time code sent by SMS (notify sends it).
ROUTER_TRIAGE = "internal.router.triage"
# Where the directory places an address being typed (the console asks, the router answers).
ROUTER_PLACE = "internal.router.place"
NOTIFY_VERIFICATION_CODE = "internal.notify.verification_code"
# A hotspot warning by SMS to a command-centre person's duty mobile (only the console asks;
# notify renders its own fixed text: the subject relays no caller's words).
NOTIFY_HOTSPOT_SMS = "internal.notify.hotspot_sms"

_DEAD_LETTER_PREFIX = "dlq."


class NotThisSubject(ValueError):
    """A subject that does not have the shape its parser reads."""


def _tokens(subject: str, *shape: str | None) -> list[str]:
    """The tokens of `subject` where `shape` has None; the others must match literally."""
    tokens = subject.split(".")
    if len(tokens) != len(shape) or any(
        want is not None and want != got for want, got in zip(shape, tokens, strict=True)
    ):
        raise NotThisSubject(subject)
    if any(not token for token in tokens):
        raise NotThisSubject(subject)
    return [got for want, got in zip(shape, tokens, strict=True) if want is None]


def unit_command(unit_id: str, verb: str) -> str:
    return f"cmd.unit.{unit_id}.{verb}"


def parse_unit_command(subject: str) -> tuple[str, str]:
    """(unit_id, verb) of `cmd.unit.<unit_id>.<verb>`."""
    unit_id, verb = _tokens(subject, "cmd", "unit", None, None)
    return unit_id, verb


def manual_command(centre_id: str, verb: str) -> str:
    return f"cmd.unit.{centre_id}.manual.{verb}"


def parse_manual_command(subject: str) -> tuple[str, str]:
    """(centre_id, verb) of `cmd.unit.<centre_id>.manual.<verb>`."""
    centre_id, verb = _tokens(subject, "cmd", "unit", None, "manual", None)
    return centre_id, verb


def operator_command(name: str, verb: str) -> str:
    return f"cmd.operator.{name}.{verb}"


def parse_operator_command(subject: str) -> tuple[str, str]:
    """(operator name, verb) of `cmd.operator.<name>.<verb>`."""
    name, verb = _tokens(subject, "cmd", "operator", None, None)
    return name, verb


def ticket_event(kind: str, ticket_id: str = "*") -> str:
    return f"ticket.{kind}.{ticket_id}"


def for_event(event: Event) -> str:
    return ticket_event(event.kind, event.ticket_id)


def ticket_events(event_types: Iterable[type[Event]]) -> tuple[str, ...]:
    """The filter subjects of a consumer of these event types, in the order given."""
    return tuple(ticket_event(event_type.kind) for event_type in event_types)


def events_of_tickets(ticket_ids: Iterable[str]) -> list[str]:
    """Filter subjects for every event of these tickets (sorted, so a filter is stable)."""
    return sorted(ticket_event("*", ticket_id) for ticket_id in ticket_ids)


def parse_ticket_event(subject: str) -> tuple[str, str]:
    """(kind, ticket_id) of `ticket.<kind>.<ticket_id>`; either may be a wildcard."""
    kind, ticket_id = _tokens(subject, "ticket", None, None)
    return kind, ticket_id


def unit_delivery(unit_id: str, kind: str, ticket_id: str) -> str:
    return f"dept.{unit_id}.{kind}.{ticket_id}"


def unit_inbox(unit_id: str) -> str:
    """Everything addressed to one unit: what its NATS user may subscribe to."""
    return f"dept.{unit_id}.>"


def dead_letter(consumer: str) -> str:
    return f"{_DEAD_LETTER_PREFIX}{consumer}"


def parse_dead_letter(subject: str) -> str:
    """The consumer that gave up, from `dlq.<consumer>`."""
    if not subject.startswith(_DEAD_LETTER_PREFIX) or subject == _DEAD_LETTER_PREFIX:
        raise NotThisSubject(subject)
    return subject.removeprefix(_DEAD_LETTER_PREFIX)


# Subject roots whose later tokens name one ticket, unit or channel: the tokens kept.
_KEPT_TOKENS = {"ticket": 2, "dept": 1, "notify": 3, "cmd": 2, "_INBOX": 1, "points": 2}


def pattern_of(subject: str) -> str:
    """The subject with its ids as wildcards, for a metric label of bounded cardinality:
    `ticket.dispatched.T123` → `ticket.dispatched.*`; `dept.grid-a.dispatched.T1` →
    `dept.*.dispatched.*`; `cmd.unit.cg.ack` → `cmd.unit.*.ack`; subjects without ids
    (`cmd.submit`, `dlq.router`) stay."""
    tokens = subject.split(".")
    keep = _KEPT_TOKENS.get(tokens[0])
    if keep is None or len(tokens) <= keep:
        return subject
    if tokens[0] == "dept" and len(tokens) >= 3:
        return ".".join(["dept", "*", tokens[2], *["*"] * (len(tokens) - 3)])
    if tokens[:2] == ["cmd", "unit"] and len(tokens) >= 4:
        return ".".join(["cmd", "unit", "*", *tokens[3:]])
    return ".".join([*tokens[:keep], *["*"] * (len(tokens) - keep)])


def notify_job(channel: str, ticket_id: str) -> str:
    """One outbound delivery notify still has to make (a webhook call, a resident message)."""
    return f"notify.job.{channel}.{ticket_id}"


def points_exchanged(reporter_ref: str) -> str:
    """A reporter's exchanges of points for goods (the points service, stream POINTS)."""
    return f"points.exchanged.{reporter_ref}"


def parse_points_exchanged(subject: str) -> str:
    """The reporter reference of `points.exchanged.<reporter_ref>`."""
    (reporter_ref,) = _tokens(subject, "points", "exchanged", None)
    return reporter_ref
