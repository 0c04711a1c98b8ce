"""The points service's Redis keys (one Redis, not a cluster: a change spans a report's
key and its reporter's, docs/points.md)."""

PENDING = "points:pending"  # exchange ids debited, their PointsExchanged not yet confirmed


def report(ticket_id: str) -> str:
    return f"points:report:{ticket_id}"


def balance(reporter_ref: str) -> str:
    """A hash: `balance`, and `day:<date>` → points earned that day."""
    return f"points:reporter:{reporter_ref}"


def history(reporter_ref: str) -> str:
    """A list of ledger lines (JSON), oldest first."""
    return f"points:history:{reporter_ref}"


def exchange(exchange_id: str) -> str:
    """A hash: `event` (the PointsExchanged JSON)."""
    return f"points:exchange:{exchange_id}"
