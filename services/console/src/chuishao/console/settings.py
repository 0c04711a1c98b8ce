from typing import ClassVar

from pydantic import Field, SecretStr

from chuishao.common.settings import ServiceSettings


class ConsoleSettings(ServiceSettings):
    # Signs the person tokens intake verifies: refuses the known defaults (and the empty one).
    uses_secrets: ClassVar[tuple[str, ...]] = ("person_token_secret",)
    console_http_host: str = "127.0.0.1"
    console_http_port: int = 8070
    # Where intake's HTTP API answers, and the console's own credential there (a `console`
    # key: intake keeps its SHA-256 in CHUISHAO_CONSOLE_API_KEYS).
    console_intake_url: str = "http://127.0.0.1:8080"
    console_api_key: SecretStr = SecretStr("")
    console_intake_timeout_seconds: float = Field(default=10.0, gt=0)
    # Shared with intake: HMAC of the short-lived token that names the person acting.
    person_token_secret: SecretStr = SecretStr("")
    person_token_ttl_seconds: float = Field(default=30.0, gt=0, le=60)
    # Sessions are kept in Redis; a session unused this long ends (sliding).
    console_session_hours: float = Field(default=12.0, gt=0)
    # Secure cookies only over HTTPS (compose behind a TLS proxy sets it).
    console_secure_cookies: bool = False
    # Login throttling: this many wrong passwords within the window lock the username
    # (and, at `throttle_ip_factor` times as many, the address) for `throttle_lock_minutes`.
    throttle_failures: int = Field(default=5, ge=1)
    throttle_window_minutes: float = Field(default=15.0, gt=0)
    throttle_lock_minutes: float = Field(default=15.0, gt=0)
    throttle_ip_factor: int = Field(default=4, ge=1)
    # A JSON file of accounts [{"username","password","role","unit"|"street"|"district"}]
    # added on start when missing (`make run` writes .data/accounts.json and points here).
    console_seed_accounts: str = ""
    # A TOML file of starter knowledge-base entries ([[entry]] id, category, question,
    # answer) added on start when their id is missing (`make run` points here; knowledge.seed).
    console_seed_knowledge: str = ""
    # argon2id's cost (the library's defaults, RFC 9106's low-memory profile); the tests
    # lower it, a deployment may raise it.
    password_hash_time_cost: int = Field(default=3, ge=1)
    password_hash_memory_kib: int = Field(default=65536, ge=8)
    # Hotspot warnings by SMS to the street's command_centre accounts with a duty mobile
    # (hotspot_sms.py); off: only the centre unit hears them (notify).
    console_hotspot_sms: bool = True
    # Redis key prefix of accounts, sessions and throttles.
    console_namespace: str = "console"
