"""The services as separate processes, with the tests' API keys."""

from pathlib import Path

from chuishao.embedded.services import SERVICES, WITH_CONSOLE
from chuishao.embedded.services import ServiceProcesses as _ServiceProcesses
from support.intake import settings_env

__all__ = ["SERVICES", "WITH_CONSOLE", "ServiceProcesses"]


class ServiceProcesses(_ServiceProcesses):
    """The five back-end services; `of(...)` starts another set (the console too)."""

    def __init__(self, nats_url: str, redis_url: str, log_dir: Path, **extra_env: str) -> None:
        super().__init__(nats_url, redis_url, log_dir, SERVICES, **(settings_env() | extra_env))

    @staticmethod
    def of(
        services: tuple[str, ...], nats_url: str, redis_url: str, log_dir: Path, **extra_env: str
    ) -> _ServiceProcesses:
        """These services (e.g. WITH_CONSOLE, or ("intake", "console")) as processes."""
        return _ServiceProcesses(
            nats_url, redis_url, log_dir, services, **(settings_env() | extra_env)
        )
