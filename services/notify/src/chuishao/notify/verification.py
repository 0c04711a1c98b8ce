"""One-time codes by SMS (`internal.notify.verification_code`): the console's residents'
points page asks, notify sends the text through the first phone channel it has (the SMS
gateway, or the outbox recorder that stands in for phones locally). The console made the
code and keeps only its hash; here neither the code nor the number is logged or kept
(the recorder keeps the number masked, as it does every message)."""

from collections.abc import Sequence
from typing import Any

import structlog
from pydantic import BaseModel, ValidationError

from chuishao.common.errors import invalid_request, nats_error_reply, nats_refusal
from chuishao.common.queries import VerificationCodeRequest, VerificationCodeSent
from chuishao.notify.channels import ResidentChannel, ResidentMessage
from chuishao.notify.contacts import ResidentContact

log = structlog.get_logger()
TEMPLATE = "verification_code"
# The refusal's words when no phone channel delivered the text.
NOT_SENT = (
    "验证码短信暂时发送失败，请稍后再试",
    "The SMS with the code could not be sent; try again later",
)
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
        self.channels = phone_channels(channels)

    async def send(self, body: bytes) -> dict[str, Any]:
        try:
            request = VerificationCodeRequest.model_validate_json(body or b"{}")
        except ValidationError as error:
            return nats_error_reply(invalid_request(error))
        params = {"code": request.code, "minutes": str(request.valid_minutes)}
        message = phone_text(request.request_id, TEMPLATE, text_of(request), params)
        return await answer_text(
            self.channels, request.phone, message, VerificationCodeSent, NOT_SENT
        )


def phone_channels(channels: Sequence[ResidentChannel]) -> list[ResidentChannel]:
    """The channels a text reaches a phone on by its number alone (a code, a warning)."""
    return [c for c in channels if c.name in PHONE_CHANNELS]


def phone_text(
    request_id: str, template: str, text: str, params: dict[str, str]
) -> ResidentMessage:
    """A text a service asked for, outside any ticket; the request's id is its delivery id
    (what a gateway that de-duplicates is given: the SMS out_id)."""
    return ResidentMessage(
        delivery_id=request_id, ticket_id="", template=template, text=text, params=params
    )


async def answer_text(
    channels: Sequence[ResidentChannel],
    phone: str,
    message: ResidentMessage,
    sent: type[BaseModel],
    failed: tuple[str, str],
) -> dict[str, Any]:
    """Text `message` to `phone` and answer the service that asked: `sent` naming the
    channel that delivered it, or the refusal `sms_not_sent` in `failed`'s words (Chinese,
    English) when none did (a code and a hotspot warning are answered alike)."""
    if channel := await send_to_phone(channels, phone, message):
        return sent(channel=channel).model_dump(mode="json")
    return nats_refusal("sms_not_sent", *failed)


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
