"""Hotspot warnings by SMS to command-centre people (`internal.notify.hotspot_sms`).

The console asks, once per warning per `command_centre` account with a duty mobile on the
warning's street (its hotspot_sms.py); notify names the street, grid and category and
renders one fixed text, then sends it through the first phone channel it has (the SMS
gateway, or the outbox recorder). The request carries codes and counts only, never words,
so the subject cannot relay arbitrary text to a phone. The number is never logged."""

from typing import Any

import structlog
from pydantic import ValidationError

from chuishao.common.errors import invalid_request, nats_error_reply
from chuishao.common.queries import HotspotSmsRequest, HotspotSmsSent
from chuishao.notify.channels import ResidentChannel
from chuishao.notify.hotspots import Words, window_label
from chuishao.notify.verification import answer_text, phone_channels, phone_text

log = structlog.get_logger()
TEMPLATE = "hotspot_person"
# The refusal's words when no phone channel delivered the text.
NOT_SENT = (
    "预警短信暂时发送失败，请稍后再试",
    "The hotspot SMS could not be sent; try again later",
)


def text_of(request: HotspotSmsRequest, words: Words) -> tuple[str, dict[str, str]]:
    """The fixed text and its parameters (an SMS gateway template's variables)."""
    category = words.catalogue.get(request.category)
    params = {
        "street_name": words.place(request.street),
        "grid_name": words.place(request.grid_code),
        "category_name": category.name if category is not None else request.category,
        "count": str(request.count),
        "threshold": str(request.threshold),
        "window_label": window_label(request.window_seconds),
    }
    text = (
        f"【吹哨·热点预警】{params['street_name']}{params['grid_name']}{params['window_label']}"
        f"收到“{params['category_name']}”类反映{params['count']}件"
        f"（预警线{params['threshold']}件），请及时研判、统筹处置。"
    )
    return text, params


class HotspotTexts:
    def __init__(self, channels: list[ResidentChannel], words: Words) -> None:
        self.channels = phone_channels(channels)
        self.words = words

    async def send(self, body: bytes) -> dict[str, Any]:
        try:
            request = HotspotSmsRequest.model_validate_json(body or b"{}")
        except ValidationError as error:
            return nats_error_reply(invalid_request(error))
        text, params = text_of(request, self.words)
        message = phone_text(request.request_id, TEMPLATE, text, params)
        return await answer_text(self.channels, request.phone, message, HotspotSmsSent, NOT_SENT)
