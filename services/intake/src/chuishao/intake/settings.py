from typing import Annotated, ClassVar

from pydantic import Field, SecretStr

from chuishao.common.settings import KNOWN_SECRETS, KnownSecretError, ServiceSettings


class IntakeSettings(ServiceSettings):
    # Signs residents' links and keys reporter references: refuses the known defaults.
    uses_secrets: ClassVar[tuple[str, ...]] = ("resident_link_secret", "reporter_ref_secret")
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    publish_timeout_seconds: float = 5.0
    # Events written to Redis but not yet confirmed by JetStream are re-sent after this.
    outbox_grace_seconds: float = 5.0
    # API keys are stored as SHA-256 hex digests (`python -m chuishao.intake.api_keys new`),
    # mapped to who holds them. JSON in the environment, e.g.
    # CHUISHAO_UNIT_API_KEYS='{"<sha256 of the key>": "grid-heyuan"}'.
    unit_api_keys: dict[str, str] = Field(default_factory=dict)
    operator_api_keys: dict[str, str] = Field(default_factory=dict)
    open311_api_keys: dict[str, str] = Field(default_factory=dict)
    # The console (docs/console.md): its service keys (SHA-256 → name) and the secret of
    # the short-lived tokens naming the person at its screen. Unset: no console trusted.
    console_api_keys: dict[str, str] = Field(default_factory=dict)
    person_token_secret: SecretStr = SecretStr("")

    def refuse_known_secrets(self) -> None:
        """As every service; and a console key without a secret of its own for the
        person tokens would refuse every person at start rather than at each request."""
        super().refuse_known_secrets()
        secret = self.person_token_secret.get_secret_value()
        if self.console_api_keys and not self.allow_test_secrets and secret in KNOWN_SECRETS:
            raise KnownSecretError("CHUISHAO_PERSON_TOKEN_SECRET")

    # Load shedding (overload.py, docs/scaling.md): an admitted request answers within
    # response_budget_ms; one that would not is answered 503 + Retry-After at once. The
    # bound on requests in flight adapts below max_in_flight while each takes long.
    # 0 = a fixed max_in_flight and no queue. Measured by benchmarks/overload.py.
    max_in_flight: int = Field(default=64, ge=1)
    response_budget_ms: float = Field(default=400.0, ge=0)
    # A client over its per-minute budget gets 429: a valid API key's holder has its own
    # budget; no key or an unknown one counts against the caller's address. 0 = no limit.
    per_client_requests_per_minute: int = 0
    # Duplicate clustering: a report of the same category this close to an open ticket
    # submitted within the window is linked to it instead of dispatched again.
    duplicate_radius_m: float = 150.0
    duplicate_window_hours: float = 72.0
    # Supervisors are units of these kinds (from the router's directory).
    supervisor_kinds: tuple[str, ...] = ("command_centre", "district")
    # Durability when Redis forgets (docs/intake.md "How the records are rebuilt"):
    # Fernet keys of the encrypted contact store, comma-separated, the first encrypts;
    # unset: one generated on first start into <data_dir>/intake-contact.key.
    contact_store_key: SecretStr | None = None
    # Ticket ids reserved from JetStream per round trip (1: dense ids; more: fewer round
    # trips, and a stopped replica's unused ids are skipped, never reused).
    ticket_id_block: int = Field(default=1, ge=1, le=1000)
    # How often a running intake checks its records against the stream.
    record_check_seconds: float = 5.0
    # Retention of residents' contacts (retention.py, docs/intake.md "Retention"): the
    # reporter's name and phone are erased this long after the ticket closes, or after
    # its rating window ends unrated; reporter_ref stays. Swept every retention_sweep_seconds.
    rating_window_days: float = Field(default=7.0, gt=0)
    contact_retention_days: float = Field(default=180.0, gt=0)
    retention_sweep_seconds: float = Field(default=3600.0, gt=0)
    # The rating window (feedback_window.py, docs/intake.md "The rating window"): a
    # resolved ticket nobody rated within rating_window_days of its resolution is closed
    # (TicketClosed, reason feedback_window_elapsed). A category may have its own window,
    # JSON in the environment, e.g. CHUISHAO_RATING_WINDOW_DAYS_BY_CATEGORY='{"fire_box": 3}'.
    # Swept every feedback_window_sweep_seconds.
    rating_window_days_by_category: dict[str, Annotated[float, Field(gt=0)]] = Field(
        default_factory=dict
    )
    feedback_window_sweep_seconds: float = Field(default=60.0, gt=0)
    # The photo store (chuishao.common.photos, docs/console.md "The photo store"): an
    # upload larger than photo_max_bytes is refused (413), and so is one whose header
    # claims more than photo_max_pixels (a decompression bomb) before it is decoded.
    photo_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    photo_max_pixels: int = Field(default=50_000_000, ge=10_000)
