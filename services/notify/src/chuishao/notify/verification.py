"""One-time codes by SMS (`internal.notify.verification_code`): the console's residents'
points page asks, notify sends the text through the first phone channel it has (the SMS
gateway, or the outbox recorder that stands in for phones locally). The console made the
code and keeps only its hash; here neither the code nor the number is logged or kept
(the recorder keeps the number masked, as it does every message)."""

from collections.abc import Sequence
from typing import Any

import structlog
from faststream.nats import NatsBroker
from pydantic import ValidationError

from chuishao.common import subjects
from chuishao.common.broker import answers_failures, current_message
from chuishao.common.errors import invalid_request, nats_error_reply, nats_refusal
from chuishao.common.queries import VerificationCodeRequest, VerificationCodeSent
from chuishao.common.replies import withhold_reply
from chuishao.notify.channels import ResidentChannel, ResidentMessage
from chuishao.notify.contacts import ResidentContact

log = structlog.get_logger()
TEMPLATE = "verification_code"
# A code reaches a phone by its number: WeChat (an openid) cannot carry it.
PHONE_CHANNELS = ("sms", "outbox")
PURPOSES = {"points": "查询本人积分"}


def text_of(request: VerificationCodeRequest) -> str:
    return (
        f"【吹哨】您的验证码为 {request.code}，{request.valid_minutes} 分钟内有效，"
        f"仅用于{PURPOSES[request.purpose]}，请勿告诉他人。如非本人操作请忽略。"
    )


class VerificationCodes:
    def __init__(self, channels: list[ResidentChannel]) -> None:
        self.channels = [c for c in channels if c.name in PHONE_CHANNELS]

    async def send(self, body: bytes) -> dict[str, Any]:
        try:
            request = VerificationCodeRequest.model_validate_json(body or b"{}")
        except ValidationError as error:
            return nats_error_reply(invalid_request(error))
        message = ResidentMessage(
            delivery_id=request.request_id,
            ticket_id="",
            template=TEMPLATE,
            text=text_of(request),
            params={"code": request.code, "minutes": str(request.valid_minutes)},
        )
        if sent := await send_to_phone(self.channels, request.phone, message):
            return VerificationCodeSent(channel=sent).model_dump(mode="json")
        return nats_refusal(
            "sms_not_sent",
            "验证码短信暂时发送失败，请稍后再试",
            "The SMS with the code could not be sent; try again later",
        )


async def send_to_phone(
    channels: Sequence[ResidentChannel], phone: str, message: ResidentMessage
) -> str | None:
    """A text for a number outside any ticket, on the first phone channel that delivers
    it: that channel's name, or None when none did."""
    # No ticket: the channels read only the number (model_construct skips the ticket id a
    # contact of a ticket must have).
    contact = ResidentContact.model_construct(ticket_id="", phone=phone, name=None)
    for channel in channels:
        result = await channel.send(contact, message)
        log.info(
            "phone_text_sent", template=message.template, channel=channel.name, outcome=result.kind
        )
        if result.kind == "delivered":
            return channel.name
    return None


def register(broker: NatsBroker, codes: VerificationCodes) -> None:
    # Services only (units may publish their own commands, never internal.>); answered
    # only on the caller's inbox.
    @broker.subscriber(subjects.NOTIFY_VERIFICATION_CODE, queue="notify")
    @answers_failures
    async def on_verification_code() -> dict[str, Any]:
        message = current_message(broker)
        if withhold_reply(message):
            return {}
        return await codes.send(message.body)
