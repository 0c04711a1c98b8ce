"""What came of one attempt to hand a message to the outside world, and whether trying
again can help."""

from dataclasses import dataclass
from typing import Literal

import httpx

from chuishao.common.privacy import mask_text

# 408 and 429 are 4xx but say "not now" rather than "never": they are retried.
_RETRYABLE_4XX = frozenset({408, 429})


@dataclass(frozen=True)
class SendResult:
    """What one attempt to send (a webhook call, an SMS, a WeChat message) came to."""

    kind: Literal["delivered", "retry", "rejected"]
    detail: str
    status: int | None = None
    retry_after: float | None = None

    def __post_init__(self) -> None:
        # A gateway's answer often echoes the number it refused; the detail goes into the
        # delivery log, dead-letter headers, DeliveryFailed.reason and log lines.
        object.__setattr__(self, "detail", mask_text(self.detail))

    @classmethod
    def delivered(cls, detail: str = "ok", status: int | None = None) -> "SendResult":
        return cls("delivered", detail, status)

    @classmethod
    def retry(cls, detail: str, status: int | None = None) -> "SendResult":
        return cls("retry", detail, status)

    @classmethod
    def rejected(cls, detail: str, status: int | None = None) -> "SendResult":
        return cls("rejected", detail, status)


def from_response(response: httpx.Response) -> SendResult:
    status = response.status_code
    if 200 <= status < 300:
        return SendResult.delivered(f"HTTP {status}", status)
    detail = f"HTTP {status}: {response.text[:200]}"
    if status >= 500 or status in _RETRYABLE_4XX:
        return SendResult("retry", detail, status, _retry_after(response))
    # Any other status (4xx, and 3xx: redirects are not followed) will not change.
    return SendResult.rejected(detail, status)


def from_transport_error(error: httpx.TransportError) -> SendResult:
    """Timeouts, refused or reset connections: the receiver may be back soon."""
    return SendResult.retry(f"{type(error).__name__}: {error}"[:300])


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    return float(value) if value.isdigit() else None
