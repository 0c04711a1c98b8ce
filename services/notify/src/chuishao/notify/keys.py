"""notify's Redis keys. No other service reads or writes them."""

HELD = "notify:held"  # zset: held job id -> release time (epoch ms)
HELD_JOBS = "notify:held:jobs"  # hash: held job id -> the job
# stream: the recorder channel's messages (the key keeps the channel's published name,
# `outbox`, so what was recorded before stays readable)
RECORDED = "notify:outbox"


def ticket(ticket_id: str) -> str:
    """hash: what notify knows of a ticket (`facts.FactsStore`)."""
    return f"notify:ticket:{ticket_id}"


def delivery_log(ticket_id: str) -> str:
    """list: the ticket's delivery log entries (`delivery_log.DeliveryLogStore`)."""
    return f"notify:log:{ticket_id}"


def done(job_id: str) -> str:
    """string: how a job was settled (`idempotency.SendLedger`)."""
    return f"notify:done:{job_id}"


def in_flight(job_id: str) -> str:
    """string: an attempt of the job is being sent (`idempotency.SendLedger`)."""
    return f"notify:inflight:{job_id}"


def rate_window(recipient: str, window: int, index: int) -> str:
    """counter: messages to a recipient in one rate-limit window (`protections`)."""
    return f"notify:rate:{recipient}:{window}:{index}"
