"""Where the answer to a NATS request may go.

A service answers with the services' rights, on whatever reply subject the request names;
nats-server does not check that subject against the caller's rights. A caller that names
`ticket.submitted.X`, `dept.<other unit>.…` or `$KV.catalogue.fire_box` would have the
service publish there for it (a confused deputy). So a request is answered only when its
reply subject is an inbox of the caller:

- `_INBOX.<unit>.…` for a unit's commands (its client connects with
  `inbox_prefix=_INBOX.<unit>`, the only inbox its NATS user may subscribe to), `_INBOX.…`
  for the services' own callers;
- `_R_.…`, the reply subject nats-server substitutes when a request crosses accounts (every
  unit has an account of its own, chuishao.devstack.nats_auth): it leads back to the
  calling account only.

Any other request is not handled at all: no answer, no effect, a warning in the log.
"""

import structlog
from faststream.nats.message import NatsMessage

INBOX = "_INBOX"
CROSS_ACCOUNT_REPLY = "_R_."

log = structlog.get_logger()


def unit_inbox_prefix(unit_id: str) -> str:
    """A unit's client's `inbox_prefix`; its replies arrive under `_INBOX.<unit>.>`."""
    return f"{INBOX}.{unit_id}"


def reply_allowed(reply: str, inbox_prefix: str = INBOX) -> bool:
    return reply.startswith((CROSS_ACCOUNT_REPLY, f"{inbox_prefix}."))


def withhold_reply(message: NatsMessage, inbox_prefix: str = INBOX) -> bool:
    """True when the request must not be handled because its reply subject is not an inbox
    of the caller; the reply is then suppressed (FastStream answers on `reply_to` after the
    handler returns, so blanking it means nothing is published)."""
    if reply_allowed(message.reply_to, inbox_prefix):
        return False
    log.warning(
        "request_refused_reply_subject",
        subject=message.raw_message.subject,
        reply=message.reply_to,
        expected=f"{inbox_prefix}.>",
    )
    message.reply_to = ""
    return True
