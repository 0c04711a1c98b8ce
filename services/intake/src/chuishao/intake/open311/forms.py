"""What an Open311 client sends: a request's form, its attributes, and dates."""

from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from chuishao.common.commands import SubmitReport
from chuishao.common.domain import Channel
from chuishao.intake.open311.rendering import Open311Error

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2099, 12, 31, 23, 59, 59, tzinfo=UTC)
ATTRIBUTE = "attribute["


def present(value: str | None) -> str | None:
    """An empty parameter counts as absent."""
    return value if value not in (None, "") else None


def parse_date(name: str, value: str | None) -> datetime | None:
    if (value := present(value)) is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as error:
        raise Open311Error(
            400, f"{name} must be a W3C datetime, e.g. 2026-11-21T08:00:00Z"
        ) from error
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    # 0001-01-01 minus the 90-day window overflows: only dates this service can hold.
    if not EARLIEST <= moment <= LATEST:
        raise Open311Error(400, f"{name} must be between 2000-01-01 and 2099-12-31")
    return moment


def attributes(form: Any) -> dict[str, str | list[str]]:
    """`attribute[code]=value`, and `attribute[code][]=value` for each value of a list."""
    answers: dict[str, str | list[str]] = {}
    for key, value in form.multi_items():
        if not key.startswith(ATTRIBUTE) or value in ("", None):
            continue
        code = key[len(ATTRIBUTE) :].split("]", 1)[0]
        if key.endswith("[]"):
            existing = answers.setdefault(code, [])
            assert isinstance(existing, list)
            existing.append(str(value))
        else:
            answers[code] = str(value)
    return answers


def report_from_form(form: Any) -> SubmitReport:
    def field(name: str) -> str | None:
        value = form.get(name)
        return present(value if isinstance(value, str) else None)

    code = field("service_code")
    if code is None:
        raise Open311Error(400, "service_code is required")
    lat, long_ = field("lat"), field("long")
    address = field("address_string")
    if field("address_id") and not address:
        address = f"address_id:{field('address_id')}"
    if (lat is None) != (long_ is None):
        raise Open311Error(400, "lat and long must be given together")
    if lat is None and address is None:
        raise Open311Error(400, "give a location: lat and long, address_string or address_id")
    names = [n for n in (field("last_name"), field("first_name")) if n]
    reporter = {
        key: value
        for key, value in (
            ("name", "".join(names) or None),
            ("phone", field("phone")),
            ("email", field("email")),
        )
        if value
    }
    payload: dict[str, Any] = {
        "category": code,
        "description": field("description") or "(no description)",
        "location": {k: v for k, v in (("lat", lat), ("long", long_), ("address", address)) if v},
        "channel": Channel.OPEN311,
        "media_urls": [field("media_url")] if field("media_url") else [],
        "reporter": reporter or None,
        "attributes": attributes(form),
    }
    try:
        return SubmitReport.model_validate(payload)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise Open311Error(400, f"{where}: {first['msg']}") from error
