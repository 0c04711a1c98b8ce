"""The router's Redis keys. No other service reads or writes them (the triage examples'
list is `chuishao.router.examples.KEY`)."""

OUTBOX = "router:outbox"  # zset: queued event id -> when (wall time)
OUTBOX_EVENTS = "router:outbox:events"  # hash: queued event id -> the event


def ticket(ticket_id: str) -> str:
    """string: the ticket's `TicketRouting` (packed JSON, chuishao.common.packing)."""
    return f"router:ticket:{ticket_id}"


def manual_queue(arbiter_id: str) -> str:
    """zset: the tickets waiting for this command centre -> `state.queue_score`."""
    return f"router:manual:{arbiter_id}"
