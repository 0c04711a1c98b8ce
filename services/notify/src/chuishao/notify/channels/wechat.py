"""WeChat official-account template messages (POST …/message/template/send)."""

import json

import httpx
from pydantic import SecretStr

from chuishao.notify.channels import ResidentMessage
from chuishao.notify.contacts import ResidentContact
from chuishao.notify.outcomes import SendResult, from_response, from_transport_error
from chuishao.notify.settings import ResidentChannelName

# -1: system busy; 45009: daily API quota reached. Both clear with time.
_TRANSIENT_ERRCODES = frozenset({-1, 45009})


class WechatTemplateChannel:
    name: ResidentChannelName = "wechat"

    def __init__(
        self,
        client: httpx.AsyncClient,
        url: str,
        access_token: SecretStr | None,
        template_ids: dict[str, str],
    ) -> None:
        self.client = client
        self.url = url
        self.access_token = access_token
        self.template_ids = template_ids

    def can_reach(self, contact: ResidentContact) -> bool:
        return contact.wechat_openid is not None

    async def send(self, contact: ResidentContact, message: ResidentMessage) -> SendResult:
        payload = {
            "touser": contact.wechat_openid,
            "template_id": self.template_ids.get(message.template, message.template),
            "url": message.params.get("link"),
            "client_msg_id": message.delivery_id,
            "data": {
                "ticket_id": {"value": message.ticket_id},
                "content": {"value": message.text},
            },
        }
        params = {}
        if self.access_token is not None:
            params["access_token"] = self.access_token.get_secret_value()
        try:
            response = await self.client.post(
                self.url,
                params=params,
                content=json.dumps(payload, ensure_ascii=False),
                headers={"Content-Type": "application/json; charset=utf-8"},
            )
        except httpx.TransportError as error:
            return from_transport_error(error)
        outcome = from_response(response)
        if outcome.kind != "delivered":
            return outcome
        try:
            errcode = int(response.json().get("errcode", 0))
        except (ValueError, AttributeError):
            errcode = 0
        if errcode == 0:
            return outcome
        detail = f"wechat errcode {errcode}"
        if errcode in _TRANSIENT_ERRCODES:
            return SendResult.retry(detail, response.status_code)
        return SendResult.rejected(detail, response.status_code)
