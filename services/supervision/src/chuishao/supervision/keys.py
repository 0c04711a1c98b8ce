"""The Redis layout of one projection. Every key starts with its namespace, so a rebuild
can write a complete second copy beside the live one and the two can be compared."""

from dataclasses import dataclass

ALL_PERIODS = "all"


def text(value: bytes | str) -> str:
    """A Redis answer as text (the client answers bytes)."""
    return value.decode() if isinstance(value, bytes) else value


@dataclass(frozen=True)
class SupervisionKeys:
    namespace: str

    def ticket(self, ticket_id: str) -> str:
        return f"{self.namespace}:ticket:{ticket_id}"

    def counts(self, scope: str, period: str) -> str:
        """Hash of counters (received, dispatched, …) of a scope in a day or `all`."""
        return f"{self.namespace}:counts:{scope}:{period}"

    def index(self, kind: str) -> str:
        """Set of the values seen for a scope kind (unit ids, street codes, …)."""
        return f"{self.namespace}:index:{kind}"

    @property
    def days(self) -> str:
        return f"{self.namespace}:index:day"

    @property
    def months_since(self) -> str:
        """The first month whose month counter hashes are complete ("0000-00": all). A
        projection that already held tickets before month hashes were kept has them only
        for months that began after; earlier months are summed from their days."""
        return f"{self.namespace}:months-since"

    @property
    def states(self) -> str:
        """Hash: ticket status → how many tickets are in it now."""
        return f"{self.namespace}:states"

    @property
    def overdue(self) -> str:
        """Sorted set: overdue ticket → the earliest deadline it missed."""
        return f"{self.namespace}:overdue"

    def overdue_in(self, street: str) -> str:
        """The same, for one street's tickets (a street's board)."""
        return f"{self.namespace}:overdue:street:{street}"

    @property
    def whistles(self) -> str:
        """Sorted set of recent whistles (JSON members) by time."""
        return f"{self.namespace}:whistles"

    @property
    def hotspots(self) -> str:
        """Sorted set of recent hotspot warnings (JSON members) by time."""
        return f"{self.namespace}:hotspots"

    def hotspot_reports(self, grid: str, category: str) -> str:
        """Sorted set: ticket → report time, for one grid × category."""
        return f"{self.namespace}:hotspot:reports:{grid}:{category}"

    def hotspot_quiet(self, grid: str, category: str) -> str:
        """Event time until which a fired grid × category stays quiet."""
        return f"{self.namespace}:hotspot:quiet:{grid}:{category}"

    @property
    def outbox(self) -> str:
        """Hash: event id → events decided but not yet confirmed by JetStream."""
        return f"{self.namespace}:outbox"

    @property
    def outbox_queued(self) -> str:
        """Sorted set: the same event ids → when they were queued (chuishao.common.outbox)."""
        return f"{self.namespace}:outbox:queued"

    @property
    def pattern(self) -> str:
        return f"{self.namespace}:*"
