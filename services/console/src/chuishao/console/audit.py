"""One audit line per action, naming the person: who, in which role, did what to which
ticket or account. Only ids and codes: never a resident's name, phone or free text."""

from typing import TYPE_CHECKING

import structlog

if TYPE_CHECKING:
    from chuishao.console.auth import Person

log = structlog.get_logger("chuishao.console.audit")


def audit(person: "Person | None", action: str, **fields: str | int | float | bool | None) -> None:
    """E.g. `audit(person, "acknowledge", ticket=ticket_id)`; `person=None` for an action
    before anyone is logged in (a failed login names the username tried instead)."""
    who = {"person": person.username, "role": person.role.value} if person else {}
    log.info("console_audit", action=action, **who, **fields)
