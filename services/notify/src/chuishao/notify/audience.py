"""Who hears of a ticket: what notify knows of it from earlier events (its priority, the
units summoned and their roles, the linked duplicates), as `FactsStore` keeps it. A type
only, so `planning` decides from it without reaching Redis."""

from dataclasses import dataclass, field

from chuishao.common.domain import Level, Priority, Role


@dataclass(frozen=True)
class Audience:
    priority: Priority | None = None
    units: dict[str, tuple[Role, Level]] = field(default_factory=dict)
    # Duplicate reports linked to this ticket: their reporters hear its news too.
    linked: tuple[str, ...] = ()
