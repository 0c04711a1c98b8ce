from pydantic import Field

from chuishao.common.settings import ServiceSettings


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
    # How often the open/overdue/dead-letter gauges are refreshed.
    gauges_refresh_seconds: float = Field(default=5.0, gt=0)
