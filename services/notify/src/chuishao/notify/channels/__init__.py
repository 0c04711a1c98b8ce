"""Resident channels behind one interface: SMS, WeChat template messages, the outbox."""

from dataclasses import dataclass
from typing import Protocol

from chuishao.notify.contacts import ResidentContact
from chuishao.notify.outcomes import SendResult
from chuishao.notify.settings import ResidentChannelName


@dataclass(frozen=True)
class ResidentMessage:
    delivery_id: str  # passed to gateways that de-duplicate (SMS out_id)
    ticket_id: str
    template: str
    text: str
    params: dict[str, str]  # for gateways that fill a pre-registered template


class ResidentChannel(Protocol):
    name: ResidentChannelName

    def can_reach(self, contact: ResidentContact) -> bool: ...

    async def send(self, contact: ResidentContact, message: ResidentMessage) -> SendResult: ...


__all__ = ["ResidentChannel", "ResidentMessage"]
