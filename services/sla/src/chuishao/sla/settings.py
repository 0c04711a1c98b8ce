from pathlib import Path

from pydantic import Field

from chuishao.common.settings import ServiceSettings


class SlaSettings(ServiceSettings):
    # None: the policies shipped in the package (chuishao/sla/data/policies.toml).
    sla_policies_file: Path | None = None
    # How often the timer loop looks for due timers when none were due last time: the
    # usual lateness of a warning or breach is about half of this.
    sla_tick_seconds: float = 0.2
    sla_claim_batch: int = 500
    # Claimed tickets are fired in chunks (one read, one burst of publishes, one round of
    # commits per chunk), this many chunks at a time.
    sla_fire_chunk: int = 100
    sla_fire_concurrency: int = 4
    # The lifecycle events decided together at most (Supervisor.apply_batch).
    sla_batch_size: int = Field(default=64, ge=1, le=1000)
    # A claimed timer whose claimant did not finish in this time is taken again.
    sla_lease_seconds: float = 30.0
    # A failed publish puts the timer back this far in the future (stack clock).
    sla_retry_seconds: float = 2.0
    sla_publish_timeout_seconds: float = 5.0
    sla_sweep_interval_seconds: float = 300.0
    # How often sla checks its states against TICKETS (a Redis that forgot: rebuild.py).
    sla_state_check_seconds: float = 5.0
