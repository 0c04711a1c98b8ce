from chuishao.common.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    publish_timeout_seconds: float = 5.0
    # Events written to Redis but not yet confirmed by JetStream are re-sent after this.
    outbox_grace_seconds: float = 5.0
