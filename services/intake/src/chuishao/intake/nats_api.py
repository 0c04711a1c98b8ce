"""NATS request subjects for in-house systems (hotline CTI, the grid-worker app):
the same use cases as HTTP, replying with the result or an error in the one shape,
{"ok": false, "error": {code, message_zh, message_en, field}} (chuishao.common.errors).

    cmd.submit                      SubmitReport             (Idempotency-Key header)
    cmd.unit.<unit_id>.<verb>       a unit's lifecycle command (only that unit's NATS
                                    account can send here: chuishao.devstack.nats_auth)
    cmd.operator.<name>.<verb>      a 12345 operator acting for a resident

A request is answered only on an inbox of its caller (chuishao.common.replies): a unit's
command on `_INBOX.<unit>.…` (or the server's cross-account `_R_.…`), the others on an
`_INBOX.…`. Any other reply subject would make intake publish there with the services'
rights, so such a request is not handled at all.
"""

from typing import Any

from faststream.nats import NatsBroker
from pydantic import ValidationError

from chuishao.common import subjects
from chuishao.common.broker import answers_failures, current_message
from chuishao.common.commands import SubmitReport
from chuishao.common.errors import ApiError, nats_error_reply, nats_refusal
from chuishao.common.replies import unit_inbox_prefix, withhold_reply
from chuishao.intake.attributes import InvalidAttribute
from chuishao.intake.http_errors import validation_detail
from chuishao.intake.lifecycle import VERBS, Actor, CommandRejected
from chuishao.intake.proactive import is_proactive, refused_over_nats
from chuishao.intake.service import CatalogueNotLoaded, Intake, UnknownCategory
from chuishao.intake.views import view_of

IDEMPOTENCY_HEADER = "Idempotency-Key"
# Requests handled at once per subscription; each waits mostly on Redis and a PubAck.
CONCURRENCY = 64
Reply = dict[str, Any]
# The answer to a request whose reply subject was refused: never published.
WITHHELD: Reply = {}


def invalid(exc: ValidationError) -> Reply:
    return nats_error_reply(validation_detail(exc.errors(include_url=False, include_input=False)))


def unknown_verb(verb: str) -> Reply:
    verbs = ", ".join(sorted(VERBS))
    return nats_refusal(
        "unknown_verb",
        f"没有 {verb} 这项操作，可用的有：{verbs}",
        f"There is no command {verb!r}; use one of: {verbs}",
    )


def register(broker: NatsBroker, intake: Intake) -> None:
    @broker.subscriber(subjects.SUBMIT_REPORT, queue="intake", max_workers=CONCURRENCY)
    @answers_failures
    async def submit() -> Reply:
        message = current_message(broker)
        if withhold_reply(message):
            return WITHHELD
        try:
            command = SubmitReport.model_validate_json(message.body)
        except ValidationError as exc:
            return invalid(exc)
        if is_proactive(command):  # no caller here to check: chuishao.intake.proactive
            return nats_error_reply(refused_over_nats().detail)
        key = (message.headers or {}).get(IDEMPOTENCY_HEADER)
        try:
            result = await intake.submit(command, key)
        except UnknownCategory as exc:
            return nats_refusal(
                "unknown_category",
                f"没有类别 {exc}，请从 GET /open311/v2/services.json 的 service_code 中选一个",
                f"There is no category {exc}; pick a service_code from "
                "GET /open311/v2/services.json",
                field="category",
            )
        except InvalidAttribute as exc:
            return nats_refusal(
                "invalid_attribute", exc.message_zh, str(exc), field=f"attributes.{exc.code}"
            )
        except CatalogueNotLoaded:
            return nats_refusal(
                "starting",
                "服务正在启动（类别目录尚未加载），请稍后重试",
                "Intake is starting (the category catalogue has not loaded); retry shortly",
            )
        except ApiError as exc:
            return nats_error_reply(exc.detail)
        return {
            "ok": True,
            "ticket_id": result.ticket_id,
            "status": result.status,
            "created": result.created,
        }

    async def run(actor: Actor, verb: str, body: bytes, key: str | None) -> Reply:
        command_type = VERBS.get(verb)
        if command_type is None:
            return unknown_verb(verb)
        try:
            command = command_type.model_validate_json(body)
        except ValidationError as exc:
            return invalid(exc)
        try:
            record = await intake.execute(command, actor, key)
        except CommandRejected as exc:
            # Only what the refusal says: a ticket the caller may not know is refused
            # exactly like one that does not exist (chuishao.intake.scopes), and no refusal
            # carries the ticket's status or version beside it.
            return nats_error_reply(exc.detail())
        except ApiError as exc:
            return nats_error_reply(exc.detail)
        # Units and operators only here (no resident can reach these subjects), but the
        # face is still chosen in the one place.
        return {"ok": True, "ticket": view_of(record, actor).model_dump(mode="json")}

    @broker.subscriber(subjects.UNIT_COMMANDS, queue="intake", max_workers=CONCURRENCY)
    @answers_failures
    async def unit_command() -> Reply:
        message = current_message(broker)
        unit_id, verb = subjects.parse_unit_command(message.raw_message.subject)
        if withhold_reply(message, unit_inbox_prefix(unit_id)):
            return WITHHELD
        actor = intake.keys.actor_for_unit(unit_id)
        key = (message.headers or {}).get(IDEMPOTENCY_HEADER)
        return await run(actor, verb, message.body, key)

    @broker.subscriber(subjects.OPERATOR_COMMANDS, queue="intake", max_workers=CONCURRENCY)
    @answers_failures
    async def operator_command() -> Reply:
        message = current_message(broker)
        if withhold_reply(message):
            return WITHHELD
        name, verb = subjects.parse_operator_command(message.raw_message.subject)
        key = (message.headers or {}).get(IDEMPOTENCY_HEADER)
        return await run(Actor("operator", name), verb, message.body, key)
