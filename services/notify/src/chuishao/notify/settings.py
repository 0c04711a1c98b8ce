"""Notify's settings: `CHUISHAO_*` environment variables. Secrets are SecretStr and come
only from the environment (or `.env`), never from code or data files."""

from datetime import time
from typing import ClassVar, Literal, Self

from pydantic import Field, HttpUrl, SecretStr, model_validator

from chuishao.common.settings import ServiceSettings
from chuishao.common.streams import NOTIFY_DELIVERIES

ResidentChannelName = Literal["wechat", "sms", "outbox"]
HotspotChannel = Literal["webhook", "sms"]


class NotifySettings(ServiceSettings):
    # Signs residents' links and keys reporter references: refuses the known defaults.
    uses_secrets: ClassVar[tuple[str, ...]] = ("resident_link_secret", "reporter_ref_secret")
    # Unit id -> HMAC key for its webhook, as JSON: {"grid-heyuan": "…"}.
    webhook_secrets: dict[str, SecretStr] = Field(default_factory=dict)
    webhook_timeout_seconds: float = 10.0

    # Retries of webhook calls and gateway sends: exponential back-off with jitter.
    delivery_attempts: int = 8
    retry_base_seconds: float = 2.0
    retry_cap_seconds: float = 300.0
    delivery_workers: int = 16
    # The ticket events fanned out together at most (FanOut.handle_batch).
    notify_batch_size: int = Field(default=64, ge=1, le=1000)

    # The console's resident pages (/r/<ticket>?t=<token>): every SMS links there.
    resident_page_url: str = "http://127.0.0.1:8070/r"

    # Tried in order; the first that can reach the resident is used.
    resident_channels: tuple[ResidentChannelName, ...] = ("outbox",)
    sms_gateway_url: HttpUrl | None = None
    sms_api_key: SecretStr | None = None
    sms_sign_name: str = "吹哨"
    sms_template_codes: dict[str, str] = Field(default_factory=dict)
    wechat_api_url: HttpUrl | None = None
    wechat_access_token: SecretStr | None = None
    wechat_template_ids: dict[str, str] = Field(default_factory=dict)

    # Resident protections.
    timezone: str = "Asia/Shanghai"
    quiet_hours_start: time = time(22, 0)
    quiet_hours_end: time = time(7, 0)
    resident_max_per_hour: int = 5
    resident_max_per_day: int = 20

    # Hotspot warnings to the street's command centre (hotspots.py): always on the unit's
    # subject; besides, on these channels (its webhook, an SMS to its duty phone).
    hotspot_channels: tuple[HotspotChannel, ...] = ("webhook", "sms")

    # How often held messages (quiet hours, rate limit) are checked for release.
    sweep_interval_seconds: float = 15.0
    contact_timeout_seconds: float = 3.0

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if not 1 <= self.delivery_attempts <= NOTIFY_DELIVERIES.max_deliver:
            raise ValueError(
                f"delivery_attempts must be 1..{NOTIFY_DELIVERIES.max_deliver} "
                "(the notify-deliveries consumer's max_deliver)"
            )
        if "sms" in self.resident_channels and self.sms_gateway_url is None:
            raise ValueError("resident channel sms needs CHUISHAO_SMS_GATEWAY_URL")
        if "wechat" in self.resident_channels and self.wechat_api_url is None:
            raise ValueError("resident channel wechat needs CHUISHAO_WECHAT_API_URL")
        return self
