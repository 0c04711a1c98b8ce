"""The published contract: a JSON Schema per event and command, and an AsyncAPI
document, all generated from the models (`make schemas` writes them to schemas/)."""

import json
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from chuishao.common import subjects
from chuishao.common.commands import COMMAND_TYPES, Command
from chuishao.common.events import EVENT_TYPES, LEDGER_EVENT_TYPES, Event

TITLE = "chuishao ticket events"
VERSION = "1.0.0"


def _version(model: type[BaseModel]) -> int:
    default = model.model_fields["schema_version"].default
    assert isinstance(default, int)
    return default


def _name(model: type[BaseModel]) -> str:
    return f"{model.__name__}.v{_version(model)}.schema.json"


def json_schemas() -> dict[str, dict[str, Any]]:
    """Path under schemas/ → JSON Schema document."""
    documents: dict[str, dict[str, Any]] = {}
    groups: tuple[tuple[str, tuple[type[BaseModel], ...]], ...] = (
        ("events", (*EVENT_TYPES, *LEDGER_EVENT_TYPES)),
        ("commands", COMMAND_TYPES),
    )
    for folder, models in groups:
        for model in models:
            schema = model.model_json_schema(mode="serialization")
            schema = {
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "$id": f"https://chuishao.org/schemas/{folder}/{_name(model)}",
                **schema,
            }
            documents[f"{folder}/{_name(model)}"] = schema
    return documents


def _channel_of(event: type[Event]) -> dict[str, Any]:
    return {
        "address": subjects.ticket_event(event.kind, "{ticket_id}"),
        "title": event.__name__,
        "description": (event.__doc__ or "").strip(),
        "parameters": {"ticket_id": {"description": "The ticket the event is about"}},
        "messages": {event.__name__: {"$ref": f"#/components/messages/{event.__name__}"}},
    }


def asyncapi() -> dict[str, Any]:
    models: list[tuple[type[BaseModel], Any]] = [
        (model, "serialization") for model in (*EVENT_TYPES, *COMMAND_TYPES)
    ]
    _, definitions = models_json_schema(models, ref_template="#/components/schemas/{model}")
    messages: dict[str, Any] = {}
    for model in (*EVENT_TYPES, *COMMAND_TYPES):
        kind = "event" if issubclass(model, Event) else "command"
        messages[model.__name__] = {
            "name": model.__name__,
            "title": model.__name__,
            "summary": (model.__doc__ or model.__name__).strip().splitlines()[0],
            "contentType": "application/json",
            "tags": [{"name": kind}, {"name": f"v{_version(model)}"}],
            "payload": {"$ref": f"#/components/schemas/{model.__name__}"},
        }
        if kind == "event":
            messages[model.__name__]["headers"] = {
                "type": "object",
                "properties": {
                    "Nats-Msg-Id": {"type": "string", "description": "equals event_id"},
                    "Chuishao-Event-Type": {"type": "string"},
                    "Chuishao-Ticket-Id": {"type": "string"},
                    "Chuishao-Correlation-Id": {"type": "string"},
                },
            }
    channels = {event.__name__: _channel_of(event) for event in EVENT_TYPES}
    channels["UnitInbox"] = {
        "address": subjects.unit_delivery("{unit_id}", "{kind}", "{ticket_id}"),
        "title": "A unit's own inbox",
        "description": "What is delivered to one unit. A unit's NATS user may read only "
        + subjects.unit_inbox("{unit_id}"),
        "parameters": {
            "unit_id": {"description": "The unit's id in the directory"},
            "kind": {"description": "The event kind, e.g. dispatched"},
            "ticket_id": {"description": "The ticket"},
        },
        "messages": {"TicketDispatched": {"$ref": "#/components/messages/TicketDispatched"}},
    }
    channels["SubmitReport"] = {
        "address": subjects.SUBMIT_REPORT,
        "title": "Submit a report (request/reply)",
        "messages": {"SubmitReport": {"$ref": "#/components/messages/SubmitReport"}},
    }
    operations = {
        f"receive{name}": {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{name}"},
            "summary": f"Subscribe to {name}",
        }
        for name in (*(event.__name__ for event in EVENT_TYPES), "UnitInbox")
    }
    operations["sendSubmitReport"] = {
        "action": "send",
        "channel": {"$ref": "#/channels/SubmitReport"},
        "summary": "Ask intake to file a report",
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": TITLE,
            "version": VERSION,
            "description": "Ticket events of chuishao (吹哨报到 · 接诉即办). Every event carries "
            "the envelope: event_id, type, schema_version, occurred_at, ticket_id, "
            "correlation_id, causation_id, producer.",
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {
                "host": "127.0.0.1:4222",
                "protocol": "nats",
                "description": "The embedded stack from `make run`",
            },
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": definitions["$defs"]},
    }


def documents() -> dict[str, str]:
    """Every file under schemas/, rendered exactly as committed."""
    rendered = {
        path: json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
        for path, schema in json_schemas().items()
    }
    rendered["asyncapi.json"] = json.dumps(asyncapi(), indent=2, ensure_ascii=False) + "\n"
    return rendered


__all__ = ["Command", "asyncapi", "documents", "json_schemas"]
