"""SMS through an HTTP gateway (the shape of Aliyun/Tencent Cloud SMS: a signature name,
a pre-registered template code and its parameters, and an out_id for de-duplication)."""

import json

import httpx
from pydantic import SecretStr

from chuishao.notify.channels import ResidentMessage
from chuishao.notify.contacts import ResidentContact
from chuishao.notify.outcomes import SendResult, from_response, from_transport_error
from chuishao.notify.settings import ResidentChannelName

# Gateway answers that mean "too many right now", not "never".
_THROTTLED = frozenset({"isv.BUSINESS_LIMIT_CONTROL", "LimitExceeded", "THROTTLED"})


class SmsGatewayChannel:
    name: ResidentChannelName = "sms"

    def __init__(
        self,
        client: httpx.AsyncClient,
        url: str,
        api_key: SecretStr | None,
        sign_name: str,
        template_codes: dict[str, str],
    ) -> None:
        self.client = client
        self.url = url
        self.api_key = api_key
        self.sign_name = sign_name
        self.template_codes = template_codes

    def can_reach(self, contact: ResidentContact) -> bool:
        return contact.phone is not None

    async def send(self, contact: ResidentContact, message: ResidentMessage) -> SendResult:
        payload = {
            "phone_numbers": contact.phone,
            "sign_name": self.sign_name,
            "template_code": self.template_codes.get(message.template, message.template),
            "template_param": message.params,
            "content": message.text,
            "out_id": message.delivery_id,
        }
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if self.api_key is not None:
            headers["Authorization"] = f"Bearer {self.api_key.get_secret_value()}"
        try:
            response = await self.client.post(
                self.url, content=json.dumps(payload, ensure_ascii=False), headers=headers
            )
        except httpx.TransportError as error:
            return from_transport_error(error)
        outcome = from_response(response)
        if outcome.kind != "delivered":
            return outcome
        code = _answer(response).get("code", "OK")
        if code == "OK":
            return outcome
        if code in _THROTTLED:
            return SendResult.retry(f"gateway throttled: {code}", response.status_code)
        return SendResult.rejected(f"gateway refused: {code}", response.status_code)


def _answer(response: httpx.Response) -> dict[str, object]:
    try:
        answer = response.json()
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}
