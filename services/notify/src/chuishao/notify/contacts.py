"""How to reach a ticket's reporter: asked of intake when a message is due, never stored."""

import nats.errors
from nats.aio.client import Client

from chuishao.common import subjects
from chuishao.common.queries import ReporterContact, ReporterContactQuery


class ResidentContact(ReporterContact):
    # Not in intake's answer yet; read when it is, so the WeChat channel can reach people.
    wechat_openid: str | None = None


class ContactUnavailable(Exception):
    """intake did not answer in time: try again later."""


async def reporter_contact(nc: Client, ticket_id: str, timeout: float) -> ResidentContact | None:
    query = ReporterContactQuery(ticket_id=ticket_id).model_dump_json().encode()
    try:
        reply = await nc.request(subjects.REPORTER_CONTACT, query, timeout=timeout)
    except (nats.errors.TimeoutError, nats.errors.NoRespondersError) as error:
        raise ContactUnavailable(type(error).__name__) from error
    if not reply.data:
        return None  # intake knows no such ticket
    return ResidentContact.model_validate_json(reply.data)


def masked(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 7 else "****"
