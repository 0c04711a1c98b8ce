"""The services as separate processes, with the tests' API keys."""

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
from redis.asyncio import Redis

from chuishao.embedded.services import SERVICES, WITH_CONSOLE
from chuishao.embedded.services import ServiceProcesses as _ServiceProcesses
from chuishao.notify.channels.recorder import RecordedMessage, read_recorded
from support.intake import settings_env

__all__ = [
    "SERVICES",
    "WITH_CONSOLE",
    "ServiceProcesses",
    "post_report_when_ready",
    "recorded_once_sent",
]


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


async def post_report_when_ready(
    client: httpx.AsyncClient, report: Mapping[str, Any], tries: int = 100
) -> httpx.Response:
    """The first answer but a 503 to posting `report` to intake (503 until intake has the
    router's catalogue), asked every 0.1 s."""
    for _ in range(tries):
        response = await client.post("/api/v1/reports", json=report)
        if response.status_code != 503:
            return response
        await asyncio.sleep(0.1)
    raise AssertionError("the catalogue never loaded")


async def recorded_once_sent(
    redis_url: str, ticket_id: str, template: str | None = None
) -> list[RecordedMessage]:
    """The recorder's messages of `ticket_id` (of `template` alone, if named) once there are
    any, asked every 0.05 s for at most 15 s (none then)."""
    redis = Redis.from_url(redis_url)
    try:
        for _ in range(300):
            sent = [
                e for e in await read_recorded(redis, ticket_id) if template in (None, e.template)
            ]
            if sent:
                break
            await asyncio.sleep(0.05)
    finally:
        await redis.aclose()
    return sent
