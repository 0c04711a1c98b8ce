"""NATS request subjects for in-house systems (hotline CTI, the grid-worker app):
the same use cases as HTTP, replying with the result or a structured error.

    cmd.submit                      SubmitReport             (Idempotency-Key header)
    cmd.unit.<unit_id>.<verb>       a unit's lifecycle command (NATS permissions make
                                    sure only that unit's user can publish here)
    cmd.operator.<name>.<verb>      a 12345 operator acting for a resident
"""

from typing import Any

import structlog
from faststream.nats import NatsBroker
from pydantic import ValidationError

from chuishao.common import subjects
from chuishao.common.broker import answers_failures, current_message
from chuishao.common.commands import SubmitReport
from chuishao.intake.attributes import InvalidAttribute
from chuishao.intake.lifecycle import VERBS, Actor, CommandRejected
from chuishao.intake.service import CatalogueNotLoaded, Intake, UnknownCategory
from chuishao.intake.views import TicketView

log = structlog.get_logger()
IDEMPOTENCY_HEADER = "Idempotency-Key"
# Requests handled at once per subscription; each waits mostly on Redis and a PubAck.
CONCURRENCY = 64


def error(code: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"ok": False, "error": {"code": code, "detail": detail, **extra}}


def invalid(exc: ValidationError) -> dict[str, Any]:
    fields = [
        {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
        for e in exc.errors(include_url=False, include_input=False)
    ]
    return error("invalid", "the command failed validation", fields=fields)


def register(broker: NatsBroker, intake: Intake) -> None:
    @broker.subscriber(subjects.SUBMIT_REPORT, queue="intake", max_workers=CONCURRENCY)
    @answers_failures
    async def submit() -> dict[str, Any]:
        message = current_message(broker)
        try:
            command = SubmitReport.model_validate_json(message.body)
        except ValidationError as exc:
            return invalid(exc)
        key = (message.headers or {}).get(IDEMPOTENCY_HEADER)
        try:
            result = await intake.submit(command, key)
        except UnknownCategory as exc:
            return error(
                "invalid",
                "unknown category",
                fields=[
                    {
                        "loc": ["category"],
                        "msg": f"unknown category {exc}",
                        "type": "unknown_category",
                    }
                ],
            )
        except InvalidAttribute as exc:
            return error(
                "invalid",
                str(exc),
                fields=[{"loc": ["attributes", exc.code], "msg": str(exc), "type": "attribute"}],
            )
        except CatalogueNotLoaded as exc:
            return error("unavailable", str(exc))
        return {
            "ok": True,
            "ticket_id": result.ticket_id,
            "status": result.status,
            "created": result.created,
        }

    async def run(actor: Actor, verb: str, body: bytes, key: str | None) -> dict[str, Any]:
        command_type = VERBS.get(verb)
        if command_type is None:
            return error("unknown_verb", f"no command {verb!r}; one of {sorted(VERBS)}")
        try:
            command = command_type.model_validate_json(body)
        except ValidationError as exc:
            return invalid(exc)
        try:
            record = await intake.execute(command, actor, key)
        except CommandRejected as exc:
            current = await intake.store.get(command.ticket_id)
            return error(
                exc.code,
                str(exc),
                status=current.status if current else None,
                version=current.version if current else None,
            )
        return {"ok": True, "ticket": TicketView.of(record).model_dump(mode="json")}

    @broker.subscriber("cmd.unit.*.*", queue="intake", max_workers=CONCURRENCY)
    @answers_failures
    async def unit_command() -> dict[str, Any]:
        message = current_message(broker)
        _, _, unit_id, verb = message.raw_message.subject.split(".")
        actor = intake.keys.actor_for_unit(unit_id)
        key = (message.headers or {}).get(IDEMPOTENCY_HEADER)
        return await run(actor, verb, message.body, key)

    @broker.subscriber("cmd.operator.*.*", queue="intake", max_workers=CONCURRENCY)
    @answers_failures
    async def operator_command() -> dict[str, Any]:
        message = current_message(broker)
        _, _, name, verb = message.raw_message.subject.split(".")
        key = (message.headers or {}).get(IDEMPOTENCY_HEADER)
        return await run(Actor("operator", name), verb, message.body, key)
