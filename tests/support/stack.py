"""The services as separate processes, with the tests' API keys."""

from pathlib import Path

from chuishao.embedded.services import SERVICES
from chuishao.embedded.services import ServiceProcesses as _ServiceProcesses
from support.intake import settings_env

__all__ = ["SERVICES", "ServiceProcesses"]


class ServiceProcesses(_ServiceProcesses):
    def __init__(self, nats_url: str, redis_url: str, log_dir: Path, **extra_env: str) -> None:
        super().__init__(nats_url, redis_url, log_dir, SERVICES, **(settings_env() | extra_env))
