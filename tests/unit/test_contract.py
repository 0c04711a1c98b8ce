import json
from pathlib import Path

import jsonschema
import pytest

from chuishao.common.contract import asyncapi, documents
from chuishao.common.events import EVENT_TYPES
from support.factories import dispatched, submitted

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


def test_the_committed_schemas_match_the_models() -> None:
    """Fails when a model changed and `make schemas` was not run (or not committed)."""
    wanted = documents()
    committed = {
        str(path.relative_to(SCHEMAS)): path.read_text(encoding="utf-8")
        for path in SCHEMAS.rglob("*.json")
        if path.name != "openapi.json"
    }
    assert sorted(committed) == sorted(wanted), "run `make schemas`"
    drifted = [name for name, text in wanted.items() if committed[name] != text]
    assert not drifted, f"run `make schemas`; drifted: {drifted}"


@pytest.mark.parametrize("event", [submitted(), dispatched(submitted())], ids=lambda e: e.type)
def test_events_validate_against_their_published_schema(event: object) -> None:
    payload = json.loads(event.model_dump_json())  # type: ignore[attr-defined]
    schema = json.loads((SCHEMAS / f"events/{payload['type']}.v1.schema.json").read_text())
    jsonschema.validate(payload, schema)


def test_the_published_schema_rejects_what_the_model_rejects() -> None:
    payload = json.loads(submitted().model_dump_json()) | {"priority": "whenever"}
    schema = json.loads((SCHEMAS / "events/TicketSubmitted.v1.schema.json").read_text())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(payload, schema)


def test_asyncapi_lists_every_event_with_its_subject() -> None:
    document = asyncapi()
    assert document["asyncapi"] == "3.0.0"
    for event in EVENT_TYPES:
        channel = document["channels"][event.__name__]
        assert channel["address"] == f"ticket.{event.kind}.{{ticket_id}}"
        assert event.__name__ in document["components"]["schemas"]
    assert document["channels"]["UnitInbox"]["address"].startswith("dept.{unit_id}.")
    # every $ref in the document resolves inside it
    text = json.dumps(document)
    for ref in {part.split('"')[0] for part in text.split('"$ref": "')[1:]}:
        node = document
        for key in ref.removeprefix("#/").split("/"):
            node = node[key]


def test_the_committed_openapi_document_matches_the_intake_app() -> None:
    from chuishao.intake.app import create_app

    wanted = json.dumps(create_app().openapi(), indent=2, ensure_ascii=False) + "\n"
    assert (SCHEMAS / "openapi.json").read_text(encoding="utf-8") == wanted, "run `make schemas`"
