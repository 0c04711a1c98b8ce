"""One attempt at a delivery job, and how it ended."""

from dataclasses import dataclass
from datetime import datetime

from chuishao.notify.delivery_log import Status
from chuishao.notify.idempotency import SendLedger
from chuishao.notify.jobs import DeliveryJob
from chuishao.notify.outcomes import SendResult


@dataclass(frozen=True)
class Attempt:
    job: DeliveryJob
    number: int  # 1 for the first delivery of this message
    at: datetime


@dataclass(frozen=True)
class Settled:
    """The job ended without a failure: sent, held for later, or not to be sent."""

    status: Status
    recipient: str
    channel: str
    detail: str = ""


@dataclass(frozen=True)
class Unsent:
    outcome: SendResult
    recipient: str
    channel: str


async def skip(
    ledger: SendLedger, attempt: Attempt, recipient: str, channel: str, why: str
) -> Settled:
    """A job not to be sent (no address, opted out, no channel): settled as skipped, so
    neither a redelivery nor a replay tries it again, and logged with `why`."""
    await ledger.settle(attempt.job.job_id, "skipped")
    return Settled("skipped", recipient, channel, why)
