"""Settings shared by every service; each service extends `ServiceSettings` with its own."""

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "CHUISHAO_"


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", extra="ignore", frozen=True
    )

    # A comma-separated list names the nodes of a cluster (docs/scaling.md).
    nats_url: str = "nats://127.0.0.1:4222"
    redis_url: str = "redis://127.0.0.1:6379/0"
    # JetStream replicas of every stream: 3 on a three-node NATS cluster (docs/scaling.md).
    stream_replicas: int = Field(default=1, ge=1, le=5)
    # Connections per process; a handler that finds them all busy waits for one (up to
    # the timeout) rather than failing.
    redis_max_connections: int = 64
    redis_pool_timeout_seconds: float = 10.0
    redis_retries: int = 20
    log_level: str = "INFO"
    log_format: Literal["auto", "json", "console"] = "auto"
    # Keys the reporter reference (a stable pseudonym of the phone number) so broadcast
    # events can correlate repeat reporters without carrying the number itself.
    reporter_ref_secret: SecretStr = SecretStr("change-me-in-production")
    # Signs the links residents get by SMS (rate the result, see the photos).
    resident_link_secret: SecretStr = SecretStr("change-me-in-production")
    public_base_url: str = "http://127.0.0.1:8080"
    data_dir: Path = Path(".data")
    # "shared": real time plus an offset in Redis, so the whole stack can be moved forward
    # together (tests, the demo); see chuishao.common.clock.SharedClock.
    clock: Literal["system", "shared"] = "system"

    @property
    def nats_servers(self) -> list[str]:
        return [url.strip() for url in self.nats_url.split(",")]
