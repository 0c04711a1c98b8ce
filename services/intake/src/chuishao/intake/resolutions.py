"""What the public (Open311 clients, the resident) reads of a ticket's resolution: every
signing-off unit's note and photos, named, not only the last unit's (协同哨: each summoned
unit signs off on its own part)."""

from chuishao.intake.records import HistoryEntry, SignOff, TicketRecord


def status_notes(record: TicketRecord, status_note: str) -> str:
    """The status line, followed once the ticket is resolved by what each unit did."""
    if record.resolution is None:
        return status_note
    return f"{status_note}：{public_note(record)}"


def public_note(record: TicketRecord) -> str:
    resolution = record.resolution
    if resolution is None:
        return ""
    if not resolution.sign_offs:
        return resolution.note
    return "；".join(f"{s.unit_name}：{s.note}" for s in resolution.sign_offs)


def sign_off_of(record: TicketRecord, entry: HistoryEntry) -> SignOff | None:
    """The sign-off a history entry records, if it is one still on the record."""
    if entry.type != "UnitSignedOff":
        return None
    kept = [*record.sign_offs, *(record.resolution.sign_offs if record.resolution else [])]
    return next((s for s in kept if s.event_id == entry.event_id), None)
