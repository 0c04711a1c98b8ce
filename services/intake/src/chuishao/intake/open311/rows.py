"""What an Open311 client reads: a service, its definition, a public request row."""

from datetime import UTC, datetime

from chuishao.common.categories import Category
from chuishao.common.privacy import mask_text
from chuishao.intake import resolutions
from chuishao.intake.lifecycle import Status
from chuishao.intake.open311.rendering import Row
from chuishao.intake.public import STATUS_NOTES
from chuishao.intake.records import TicketRecord

# Public coordinates are rounded to 3 decimals: about 111 m of latitude, 85 m of
# longitude at Beijing's latitude — the block, not the door.
COARSE_DIGITS = 3


def w3c(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment else None


def _coarse(degrees: float | None) -> float | None:
    return round(degrees, COARSE_DIGITS) if degrees is not None else None


def is_closed(record: TicketRecord) -> bool:
    return record.status in (Status.RESOLVED, Status.CLOSED)


def service_row(category: Category) -> Row:
    return {
        "service_code": category.code,
        "service_name": category.name,
        "description": category.description,
        "metadata": bool(category.attributes),
        "type": "realtime",
        "keywords": ",".join(category.keywords),
        "group": category.group,
    }


def definition_row(category: Category) -> Row:
    return {
        "service_code": category.code,
        "attributes": [
            {
                "variable": True,
                "code": attribute.code,
                "datatype": attribute.datatype,
                "required": attribute.required,
                "datatype_description": attribute.datatype_description,
                "order": attribute.order,
                "description": attribute.description,
                "values": [{"key": key, "name": name} for key, name in attribute.values],
            }
            for attribute in category.attributes
        ],
    }


def request_row(record: TicketRecord, catalogue_name: str | None) -> Row:
    closed = is_closed(record)
    lead = next((a for a in record.active_assignments if a.role == "lead"), None)
    return {
        "service_request_id": record.ticket_id,
        "status": "closed" if closed else "open",
        # Units' sign-off notes are public, but the record keeps them whole: a number or
        # a surname typed into one is masked here like in any broadcast event.
        "status_notes": mask_text(resolutions.status_notes(record, STATUS_NOTES[record.status])),
        "service_name": catalogue_name,
        "service_code": record.category,
        # The resident's own words, address and photos may name people, doors and cars:
        # the public row leaves them out (the fields stay, empty, for clients that expect
        # them). Units read them on the native API.
        "description": None,
        "agency_responsible": lead.unit_name if lead else None,
        "service_notice": None,
        "requested_datetime": w3c(record.submitted_at),
        "updated_datetime": w3c(record.updated_at),
        "expected_datetime": w3c(record.deadline) if not closed else None,
        "address": None,
        "address_id": None,
        "zipcode": None,
        "lat": _coarse(record.location.lat),
        "long": _coarse(record.location.long),
        "media_url": None,
    }
