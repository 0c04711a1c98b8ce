import json

import pytest
from pydantic import ValidationError

from chuishao.common.clock import ManualClock
from chuishao.common.domain import Channel, Location, Priority
from chuishao.common.events import TicketDispatched, TicketSubmitted, parse_event
from support.factories import dispatched, submitted


def test_a_first_event_starts_its_own_correlation() -> None:
    event = submitted()
    assert event.correlation_id == event.event_id
    assert event.causation_id is None
    assert event.type == "TicketSubmitted"
    assert event.schema_version == 1


def test_a_caused_event_carries_the_chain_and_a_repeatable_id() -> None:
    cause = submitted()
    first, again = dispatched(cause), dispatched(cause)
    assert first.event_id == again.event_id
    assert first.causation_id == cause.event_id
    assert first.correlation_id == cause.correlation_id
    assert first.ticket_id == cause.ticket_id
    assert dispatched(cause, "other-unit").event_id != first.event_id


def test_events_round_trip_through_json_by_their_type() -> None:
    event = dispatched(submitted())
    parsed = parse_event(event.model_dump_json())
    assert isinstance(parsed, TicketDispatched)
    assert parsed == event


def test_events_are_frozen() -> None:
    event = submitted()
    with pytest.raises(ValidationError):
        event.category = "other"  # type: ignore[misc]


def test_an_unknown_schema_version_is_rejected() -> None:
    payload = submitted().model_dump(mode="json") | {"schema_version": 2}
    with pytest.raises(ValidationError, match="schema_version"):
        parse_event(json.dumps(payload))


def test_an_unknown_event_type_is_rejected() -> None:
    payload = submitted().model_dump_json().replace("TicketSubmitted", "TicketExploded")
    with pytest.raises(ValidationError):
        parse_event(payload)


def test_unknown_fields_from_a_newer_producer_are_ignored() -> None:
    payload = submitted().model_dump(mode="json") | {"future_field": 1}
    assert isinstance(TicketSubmitted.model_validate(payload), TicketSubmitted)


def test_ticket_ids_must_be_safe_subject_tokens() -> None:
    with pytest.raises(ValidationError, match="ticket_id"):
        TicketSubmitted.first(
            producer="intake",
            clock=ManualClock(),
            ticket_id="T.1>",
            category="fire_box",
            description="x",
            priority=Priority.NORMAL,
            channel=Channel.SNAP_IT,
            location=Location(grid_code="HY-01"),
        )
