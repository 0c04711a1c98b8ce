"""sla's Redis keys. No other service reads or writes them."""

TIMERS = "sla:timers"  # zset: ticket id -> when to look at it next (epoch s, stack clock)
CLAIMS = "sla:claims"  # zset: ticket id -> lease expiry (epoch s, real time)
OPEN = "sla:open"  # set: tickets with at least one open clock (the sweep walks it)
SWEEP_LOCK = "sla:sweep:lock"
DEADLINES_ALL = "sla:deadlines:all"  # zset: ticket -> earliest open deadline
# The outbox (chuishao.common.outbox): a decision's events, queued in its commit.
OUTBOX = "sla:outbox"  # zset: queued event id -> when (wall time)
OUTBOX_EVENTS = "sla:outbox:events"  # hash: queued event id -> the event
OUTBOX_NAME = "sla-outbox"  # its dead letters: dlq.sla-outbox


def ticket(ticket_id: str) -> str:
    return f"sla:ticket:{ticket_id}"


def unit_deadlines(unit_id: str) -> str:
    return f"sla:deadlines:unit:{unit_id}"


def street_deadlines(street: str) -> str:
    return f"sla:deadlines:street:{street}"
