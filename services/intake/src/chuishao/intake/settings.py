from pydantic import Field

from chuishao.common.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    publish_timeout_seconds: float = 5.0
    # Events written to Redis but not yet confirmed by JetStream are re-sent after this.
    outbox_grace_seconds: float = 5.0
    # API keys are stored as SHA-256 hex digests (`python -m chuishao.intake.keys new`),
    # mapped to who holds them. JSON in the environment, e.g.
    # CHUISHAO_UNIT_API_KEYS='{"<sha256 of the key>": "grid-heyuan"}'.
    unit_api_keys: dict[str, str] = Field(default_factory=dict)
    operator_api_keys: dict[str, str] = Field(default_factory=dict)
    open311_api_keys: dict[str, str] = Field(default_factory=dict)
    # Load shedding: past this many requests in flight intake answers 503 + Retry-After;
    # a client (API key, else address) over its per-minute budget gets 429. 0 = no limit.
    max_in_flight: int = 512
    per_client_requests_per_minute: int = 0
    # Duplicate clustering: a report of the same category this close to an open ticket
    # submitted within the window is linked to it instead of dispatched again.
    duplicate_radius_m: float = 150.0
    duplicate_window_hours: float = 72.0
    # Supervisors are units of these kinds (from the router's directory).
    supervisor_kinds: tuple[str, ...] = ("command_centre", "district")
