"""What anyone may read of a ticket's progress: Open311 (docs/intake.md, "What is public")
and the resident's own link (views.ResidentTicketView) both show the history through
these, so the two public faces cannot drift apart."""

from typing import NamedTuple

from chuishao.common.privacy import mask_text
from chuishao.intake import resolutions
from chuishao.intake.lifecycle import Status
from chuishao.intake.records import HistoryEntry, TicketRecord

# What each kind of history entry says in public; kinds not here (SLA clocks, warnings,
# escalations, declines, extensions, internal notes, triage) are not published.
PUBLIC_UPDATES = {
    "TicketSubmitted": "已受理 Received",
    "TicketNeedsManualDispatch": "已受理 Received, the street command centre is assigning it",
    "TicketDispatched": "已派单 Sent to the responsible unit",
    "TicketAcknowledged": "已签收 The unit has taken it on",
    "TicketTransferred": "已转办 Passed to another unit",
    "TicketAwaitingResident": "待配合 Waiting for the reporter",
    "TicketResidentReplied": "处置中 The reporter answered; handling continues",
    "TicketRecategorised": "已调整类别 Category changed",
    "TicketResolved": "已办结 Handled; waiting for the reporter's rating",
    "TicketReopened": "已重新办理 Reopened after the reporter's rating",
    "TicketClosed": "已结案 Closed",
}
STATUS_NOTES = {
    Status.SUBMITTED: "已受理 Received, being routed",
    Status.MANUAL_DISPATCH: "已受理 Received, the street command centre is assigning it",
    Status.DISPATCHED: "已派单 Sent to the responsible unit",
    Status.IN_PROGRESS: "处置中 The unit is handling it",
    Status.AWAITING_RESIDENT: "待配合 Waiting for the reporter",
    Status.RESOLVED: "已办结 Handled; waiting for the reporter's rating",
    Status.CLOSED: "已结案 Closed",
    Status.LINKED: "已合并 Joined to an earlier report of the same problem nearby",
}


class PublicUpdate(NamedTuple):
    description: str
    media_url: str | None
    # True: a unit's own words (a sign-off, a public note); False: one of the fixed
    # PUBLIC_UPDATES, which a page may put in its own words by the entry's type.
    in_own_words: bool


def public_update(record: TicketRecord, entry: HistoryEntry) -> PublicUpdate | None:
    """A history entry as the public sees it, or None when the entry is internal."""
    if (signed := resolutions.sign_off_of(record, entry)) is not None:
        photo = signed.evidence_urls[0] if signed.evidence_urls else None
        return PublicUpdate(mask_text(f"{signed.unit_name}：{signed.note}"), photo, True)
    if entry.public_note is not None:
        return PublicUpdate(mask_text(entry.public_note), None, True)
    if (text := PUBLIC_UPDATES.get(entry.type)) is not None:
        return PublicUpdate(text, None, False)
    return None
