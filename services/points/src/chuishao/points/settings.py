from pathlib import Path

from chuishao.common.settings import ServiceSettings


class PointsSettings(ServiceSettings):
    # None: the rules shipped in the package (chuishao/points/data/points.toml).
    points_policy_file: Path | None = None
    # An exchange whose PointsExchanged was not confirmed (PubAck) this long after it was
    # debited is published again by the relay (same id: the stream drops a repeat).
    points_relay_after_seconds: float = 10.0
    points_relay_interval_seconds: float = 5.0
    points_publish_timeout_seconds: float = 5.0
