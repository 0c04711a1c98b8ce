"""Calls a unit's webhook: a JSON body signed with the unit's secret."""

import json
from datetime import datetime

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr

from chuishao.common.events import Event
from chuishao.notify.outcomes import SendResult, from_response, from_transport_error
from chuishao.notify.signing import DELIVERY_HEADER, EVENT_HEADER, signed_headers


class WebhookBody(BaseModel):
    """What a department's webhook receives (documented in docs/notify.md)."""

    model_config = ConfigDict(frozen=True)

    delivery_id: str  # the same on every retry and replay: the receiver's dedupe key
    template: str
    text: str
    event: dict[str, object]


def encode_body(delivery_id: str, template: str, text: str, event: Event) -> bytes:
    body = WebhookBody(
        delivery_id=delivery_id,
        template=template,
        text=text,
        event=event.model_dump(mode="json"),
    )
    return json.dumps(body.model_dump(mode="json"), ensure_ascii=False).encode()


class WebhookSender:
    def __init__(self, client: httpx.AsyncClient, secrets: dict[str, SecretStr]) -> None:
        self.client = client
        self.secrets = secrets

    def can_sign_for(self, unit_id: str) -> bool:
        return unit_id in self.secrets

    async def send(
        self,
        unit_id: str,
        url: str,
        body: bytes,
        *,
        delivery_id: str,
        event_type: str,
        now: datetime,
    ) -> SendResult:
        secret = self.secrets.get(unit_id)
        if secret is None:
            # Unsigned calls would teach receivers to skip verification: refuse, and let
            # ops add the secret and replay the dead letter.
            return SendResult.rejected(f"no webhook secret configured for unit {unit_id}")
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "chuishao-notify/1",
            DELIVERY_HEADER: delivery_id,
            EVENT_HEADER: event_type,
            **signed_headers(secret.get_secret_value(), body, now),
        }
        try:
            response = await self.client.post(url, content=body, headers=headers)
        except httpx.TransportError as error:
            return from_transport_error(error)
        return from_response(response)
