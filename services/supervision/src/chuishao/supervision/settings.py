from pathlib import Path

from pydantic import Field, field_validator

from chuishao.common.handled import KEPT_PER_TICKET
from chuishao.common.settings import ServiceSettings
from chuishao.supervision.rates import DEFINITIONS


class SupervisionSettings(ServiceSettings):
    supervision_http_host: str = "127.0.0.1"
    supervision_http_port: int = 8090
    # Days (the period of every counter) are calendar days here: the day a ticket came in.
    supervision_timezone: str = "Asia/Shanghai"
    # Redis key prefix of the live projection; a rebuild writes beside it under another.
    supervision_namespace: str = "sup"
    # Hotspot early warning (预警): this many tickets of one category in one grid within
    # the window raise HotspotDetected, once per window...
    hotspot_threshold: int = Field(default=5, ge=1)
    hotspot_window_hours: float = Field(default=24.0, gt=0)
    # ...and, where the grid is busy anyway, only a jump: at least `jump_factor` times the
    # average count of the `trailing_windows` windows before (0 switches the jump rule off).
    hotspot_jump_factor: float = Field(default=3.0, ge=0)
    hotspot_trailing_windows: int = Field(default=7, ge=1)
    # How often the page's live stream looks for changes.
    board_refresh_seconds: float = Field(default=1.0, gt=0)
    # How often an open live stream checks that its credential still holds: a revoked
    # display token stops a wall screen within this time.
    board_recheck_seconds: float = Field(default=5.0, gt=0)
    # How long the big screen's ranking of a month is kept and shared by every screen of
    # the same scope (chuishao.supervision.ranking_cache): each read costs 20–27 ms.
    board_ranking_cache_seconds: float = Field(default=5.0, ge=0)
    # The most ticket events the consumer folds in one transaction (#18); at low load
    # each goes through alone. At most the event ids a ticket keeps (handled.
    # KEPT_PER_TICKET): a batch delivered again must find all of its events remembered.
    supervision_batch_size: int = Field(default=64, ge=1, le=KEPT_PER_TICKET)
    # How often the open/overdue/dead-letter gauges are refreshed.
    gauges_refresh_seconds: float = Field(default=5.0, gt=0)
    # Who may read the board and the read API (docs/supervision.md, "Who sees what"):
    # supervisors, by the same API keys intake accepts (CHUISHAO_UNIT_API_KEYS: SHA-256 of
    # the key → unit id; units of `supervisor_kinds` in the router's directory), scoped to
    # the places they cover; and wall screens, by display tokens
    # (`python -m chuishao.supervision.display new --street qingshi`).
    unit_api_keys: dict[str, str] = Field(default_factory=dict)
    supervisor_kinds: tuple[str, ...] = ("command_centre", "district")
    # The figures a district publishes: rates of the whole district (and of each street
    # when `public_per_street`) that anyone may read at /api/v1/public — nothing else is
    # public. E.g. CHUISHAO_PUBLIC_RATES='["response_rate","satisfaction_rate"]'.
    public_rates: tuple[str, ...] = ()
    public_per_street: bool = False
    # The district publishes its monthly ranking: the report of units and streets
    # (aggregates only: rates, scores, ranks, counts, 每月一题) and its .xlsx/.csv may be
    # read without a credential, for the whole district. Drill-downs to tickets, appeals,
    # exemptions and ticket exports (the console) still need a login; so does the board.
    # Off by default; `make run` switches it on (CHUISHAO_PUBLIC_REPORT=true).
    public_report: bool = False
    # How long a wall screen's cookie (from its display token) lasts; the token's
    # revocation ends it at once regardless.
    display_cookie_days: int = Field(default=30, ge=1)
    # The monthly report's score weights and ranking rule (a TOML file like the one
    # shipped in chuishao/supervision/data/assessment.toml, which is used when unset).
    assessment_policy_file: Path | None = None
    # The console's address as people's browsers reach it (e.g. http://127.0.0.1:8070):
    # the report's 每月一题 rows link to its proactive-ticket form (主动立案). Empty: no link.
    supervision_console_url: str = ""

    @field_validator("public_rates")
    @classmethod
    def _known_rates(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(names) - DEFINITIONS.keys())
        if unknown:
            raise ValueError(f"unknown rates {unknown}; known: {sorted(DEFINITIONS)}")
        return names
