"""What the HTTP API returns: the record without the reporter's personal data.

Two faces, chosen in one place (`view_of`) by who asks: units, supervisors and operators
read the whole record (TicketView); a resident's SMS link reads the public face of the
ticket plus their own report (ResidentTicketView; docs/intake.md, "What a resident's
link shows")."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from chuishao.common.domain import Channel, Location, Priority, Rating, Role
from chuishao.common.privacy import mask_text
from chuishao.intake.lifecycle import Actor, Status
from chuishao.intake.public import public_update
from chuishao.intake.records import (
    Appeal,
    Assignment,
    ClockView,
    HistoryEntry,
    LinkedReport,
    Resolution,
    SignOff,
    TicketRecord,
)


class SubmitAccepted(BaseModel):
    ticket_id: str
    status: Status
    url: str
    linked_to: str | None = None
    resident_token: str = Field(
        description="The reporter's own link token for this ticket (the `token` of GET "
        "/api/v1/tickets/{ticket_id}, the `t` of the resident page): it opens this ticket "
        "and nothing else; give it only to the reporter"
    )


class PhotoView(BaseModel):
    """A photo of the ticket in the photo store, for units, supervisors and operators:
    the URLs need the caller's own credential (intake serves them only to whoever may see
    the ticket). `captured_at` (EXIF DateTimeOriginal) and `reused_from` are evidence
    metadata, never shown to residents."""

    photo_id: str
    ticket_id: str = Field(description="The ticket the photo was uploaded to")
    purpose: Literal["report", "evidence"]
    url: str
    thumb_url: str
    content_type: str
    width: int
    height: int
    captured_at: str | None = Field(description="The camera's capture time, when it wrote one")
    uploaded_at: datetime
    uploaded_by: str
    sha256: str = Field(description="SHA-256 of the normalised pixels")
    reused_from: str | None = Field(
        description="Evidence whose picture was seen first on this other ticket (or is the"
        " resident's own photo of the problem): 复用照片, to be checked"
    )


class ResidentPhoto(BaseModel):
    """A photo on a resident's link: their own report's or the units' evidence; the URLs
    carry the link's token."""

    photo_id: str
    purpose: Literal["report", "evidence"]
    url: str
    thumb_url: str


class TicketView(BaseModel):
    """The whole record, for units, supervisors and operators within their place."""

    view: Literal["full"] = "full"
    ticket_id: str
    status: Status
    category: str | None
    description: str
    priority: Priority
    channel: Channel
    location: Location
    street: str | None
    media_urls: tuple[str, ...]
    submitted_at: datetime
    updated_at: datetime
    lead_unit: str | None
    assignments: list[Assignment]
    deadline: datetime | None
    clocks: list[ClockView]
    breached: list[ClockView] = Field(
        default=[],
        description="Deadlines of this cycle already missed and not answered since "
        "(a unit's late report-in until it reports, a missed resolution until resolved)",
    )
    overdue_since: datetime | None = Field(
        default=None,
        description="The earliest missed or next deadline: the overdue filter compares it "
        "with the time",
    )
    declines: int
    reopen_count: int
    callback_attempts: int = Field(
        default=0, description="Callbacks (回访) of this cycle that reached no rating"
    )
    rating: Rating | None
    resolution: Resolution | None
    sign_offs: list[SignOff]
    linked_to: str | None
    linked_reports: list[str]
    linked_details: list[LinkedReport]
    interest_count: int
    suggested_category: str | None
    call_now: tuple[str, ...] = Field(
        default=(),
        description="A life is at risk now (danger detector): ring these numbers at once "
        "(119 fire and rescue, 110 police, 120 ambulance)",
    )
    call_message_zh: str | None = None
    appeals: list[Appeal] = Field(
        default=[],
        description="Units' appeals (申诉) and their decisions; a unit sees only its own",
    )
    history: list[HistoryEntry]
    version: int
    photos: list[PhotoView] = Field(
        default=[],
        description="The ticket's photos in the photo store (single-ticket answers only)",
    )

    @classmethod
    def of(cls, record: TicketRecord) -> "TicketView":
        return cls(
            **record.model_dump(exclude={"reporter", "reporter_ref", "correlation_id"}),
            lead_unit=record.lead_unit,
            deadline=record.deadline,
            overdue_since=record.overdue_since,
            interest_count=record.interest_count,
        )


class TimelineEntry(BaseModel):
    """One step of the ticket in plain words: fixed text per state change, a unit's public
    note or its sign-off (masked), with the sign-off's first evidence photo."""

    at: datetime
    text: str
    media_url: str | None = None
    type: str = Field(description="The history entry's event type (TicketDispatched, …)")
    in_own_words: bool = Field(
        default=False,
        description="A unit's own words (a sign-off or public note), not a fixed status line",
    )


class ResidentSignOff(BaseModel):
    unit_name: str
    note: str
    evidence_urls: tuple[str, ...]
    signed_off_at: datetime


class ResidentResolution(BaseModel):
    note: str
    evidence_urls: tuple[str, ...]
    resolved_at: datetime
    sign_offs: list[ResidentSignOff]


class ResidentTicketView(BaseModel):
    """What a resident's own link shows: the public face of the ticket and the resident's
    own report. Never another resident's words or photos, a unit's internal note, a
    decline, an extension, an escalation or a reporter's contact. A report joined to an
    earlier ticket (`linked_to`) follows that ticket's progress."""

    view: Literal["resident"] = "resident"
    ticket_id: str
    status: Status
    category: str | None
    description: str = Field(description="The resident's own words")
    media_urls: tuple[str, ...] = Field(
        description="The resident's own photos (never other reporters'), then the evidence"
    )
    submitted_at: datetime
    updated_at: datetime
    units: list[str] = Field(description="The names of the units handling it, lead first")
    deadline: datetime | None
    timeline: list[TimelineEntry]
    resolution: ResidentResolution | None
    rating: Rating | None
    linked_to: str | None
    others_reported: int = Field(description="How many others reported the same problem")
    photos: list[ResidentPhoto] = Field(
        default=[],
        description="The photos above that are in the photo store, with thumbnails",
    )

    @classmethod
    def of(cls, own: TicketRecord, followed: TicketRecord | None = None) -> "ResidentTicketView":
        """`own` is the resident's ticket; `followed` the ticket it joined, when linked
        (its progress is theirs)."""
        lead = followed or own
        # A ticket's media_urls gains its linked reports' photos: keep only the reporter's.
        others = {url for d in own.linked_details for url in d.media_urls}
        mine = tuple(u for u in own.media_urls if u not in others)
        resolution = lead.resolution
        evidence = resolution.evidence_urls if resolution else ()
        units = sorted(
            (a for a in lead.active_assignments if a.role != Role.SUPERVISOR),
            key=lambda a: a.role != Role.LEAD,
        )
        closed = lead.status in (Status.RESOLVED, Status.CLOSED)
        return cls(
            ticket_id=own.ticket_id,
            status=lead.status,
            category=lead.category,
            description=own.description,
            media_urls=tuple(dict.fromkeys((*mine, *evidence))),
            submitted_at=own.submitted_at,
            updated_at=max(own.updated_at, lead.updated_at),
            units=list(dict.fromkeys(a.unit_name for a in units)),
            deadline=None if closed else lead.deadline,
            timeline=_timeline(lead),
            resolution=_resolution(resolution) if resolution else None,
            rating=lead.rating,
            linked_to=own.linked_to,
            others_reported=lead.interest_count - 1,
        )


def _timeline(record: TicketRecord) -> list[TimelineEntry]:
    entries = []
    for entry in record.history:
        if (public := public_update(record, entry)) is not None:
            entries.append(
                TimelineEntry(
                    at=entry.at,
                    text=public.description,
                    media_url=public.media_url,
                    type=entry.type,
                    in_own_words=public.in_own_words,
                )
            )
    return entries


def _resolution(resolution: Resolution) -> ResidentResolution:
    # Sign-off notes are the answer to the resident, but the record keeps them whole.
    return ResidentResolution(
        note=mask_text(resolution.note),
        evidence_urls=resolution.evidence_urls,
        resolved_at=resolution.resolved_at,
        sign_offs=[
            ResidentSignOff(
                unit_name=s.unit_name,
                note=mask_text(s.note),
                evidence_urls=s.evidence_urls,
                signed_off_at=s.signed_off_at,
            )
            for s in resolution.sign_offs
        ],
    )


# `view` tells the two apart (a oneOf with a discriminator in the OpenAPI document).
AnyTicketView = Annotated[TicketView | ResidentTicketView, Field(discriminator="view")]


def view_of(
    record: TicketRecord, actor: Actor, followed: TicketRecord | None = None
) -> AnyTicketView:
    """The one place that picks the face by who asks: a resident never gets the full
    record. `followed` is the ticket a resident's linked report joined."""
    if actor.kind == "resident":
        return ResidentTicketView.of(record, followed)
    view = TicketView.of(record)
    if actor.kind == "unit":  # another unit's appeal is between it and the district
        view.appeals = [a for a in view.appeals if a.unit_id == actor.id]
    return view


class TicketPage(BaseModel):
    items: list[TicketView]
    next_cursor: str | None
