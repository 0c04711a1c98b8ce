"""Settings shared by every service; each service extends `ServiceSettings` with its own."""

from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "CHUISHAO_"
# The secrets' old defaults: anyone who has read the source can sign with them.
KNOWN_SECRETS = frozenset({"", "change-me-in-production"})


class KnownSecretError(RuntimeError):
    def __init__(self, variable: str) -> None:
        super().__init__(
            f"{variable} 是公开的默认值，服务拒绝启动：请设置一个随机密钥"
            "（make run 会自动生成到 .data/secrets.json）。"
            f" / {variable} is a known default secret; refusing to start: set a random one"
            " (make run generates them into .data/secrets.json)."
        )


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", extra="ignore", frozen=True
    )

    # A comma-separated list names the nodes of a cluster (docs/scaling.md).
    nats_url: str = "nats://127.0.0.1:4222"
    redis_url: str = "redis://127.0.0.1:6379/0"
    # Redis Sentinel (docs/scaling.md): when set, e.g. "s1:26379,s2:26379,s3:26379", the
    # services ask these sentinels for the primary of `redis_sentinel_master` and follow
    # a failover; `redis_url` then supplies only the database number and the password.
    redis_sentinels: str = ""
    redis_sentinel_master: str = "chuishao"
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
    # A service that signs or keys with the secrets above (`uses_secrets`) refuses to start
    # with a known one; only the test fixtures set this. `make run` generates its own into
    # .data/secrets.json, compose requires them from .env.
    allow_test_secrets: bool = False
    uses_secrets: ClassVar[tuple[str, ...]] = ()
    public_base_url: str = "http://127.0.0.1:8080"
    data_dir: Path = Path(".data")
    # "shared": real time plus an offset in Redis, so the whole stack can be moved forward
    # together (tests, the demo); see chuishao.common.clock.SharedClock.
    clock: Literal["system", "shared"] = "system"
    # Each ticket's value packed in Redis (chuishao.common.packing). false: packed values
    # and JSON are read, JSON is written — while replicas of an older version still run
    # (docs/scaling.md, "Packed values").
    packed_values: bool = True

    def refuse_known_secrets(self) -> None:
        """Called by a service's start-up (not at construction, so command-line tools that
        only need a URL from the settings still run): raises KnownSecretError."""
        if self.allow_test_secrets:
            return
        for name in self.uses_secrets:
            secret: SecretStr = getattr(self, name)
            if secret.get_secret_value() in KNOWN_SECRETS:
                raise KnownSecretError(f"{ENV_PREFIX}{name.upper()}")

    @property
    def nats_servers(self) -> list[str]:
        return [url.strip() for url in self.nats_url.split(",")]

    @property
    def redis_sentinel_nodes(self) -> list[tuple[str, int]]:
        nodes = []
        for node in filter(None, (part.strip() for part in self.redis_sentinels.split(","))):
            host, _, port = node.rpartition(":")
            nodes.append((host or node, int(port) if host else 26379))
        return nodes
