"""`chuishao-stack run`: nats-server and redis-server from wheels, streams declared,
the four services under honcho with prefixed logs; Ctrl-C stops it all."""

import argparse
import asyncio
import os
import sys
import threading
import time
from datetime import timedelta

import httpx
import nats
import redis
from honcho.manager import Manager

from chuishao.common.clock import OFFSET_KEY
from chuishao.common.streams import provision
from chuishao.devstack.credentials import (
    board_token,
    console_environment,
    intake_environment,
    local_accounts,
    local_keys,
    local_secrets,
    secrets_environment,
)
from chuishao.devstack.settings import StackSettings
from chuishao.embedded import NatsServer, RedisServer
from chuishao.embedded.services import LOCAL_STACK


async def _provision(url: str) -> None:
    connection = await nats.connect(url)
    try:
        await provision(connection.jetstream())
    finally:
        await connection.close()


def _supervision_url(settings: StackSettings) -> str:
    port = os.environ.get("CHUISHAO_SUPERVISION_HTTP_PORT", "8090")
    return f"http://{settings.http_host}:{port}"


def _console_url(settings: StackSettings) -> str:
    port = os.environ.get("CHUISHAO_CONSOLE_HTTP_PORT", "8070")
    return f"http://{settings.http_host}:{port}/"


def clock_line(offset_seconds: float) -> str:
    """The banner's line on the shared stack clock: a moved clock is never silent, since
    new tickets take their ids and times from it."""
    if round(offset_seconds) == 0:
        return "  stack clock    real time"
    sign = "+" if offset_seconds > 0 else "-"
    moved = timedelta(seconds=round(abs(offset_seconds)))
    return (
        f"  stack clock    {sign}{moved} off real time (time travel)"
        " — `make timetravel BY=0` puts it back"
    )


def stack_offset(redis_url: str) -> float:
    client = redis.Redis.from_url(redis_url, socket_timeout=2)
    try:
        raw = client.get(OFFSET_KEY)
    except redis.RedisError:
        return 0.0
    finally:
        client.close()
    return float(raw) if raw is not None else 0.0


def _token_query(settings: StackSettings) -> str:
    """?token=… of the district's display token (`board_token`), when there is one."""
    path = settings.data_dir / "display-token"
    return f"?token={path.read_text().strip()}" if path.exists() else ""


def banner(settings: StackSettings, elapsed: float, offset_seconds: float) -> str:
    """What `make run` prints once every service it names answers: where everything is."""
    return (
        f"\nchuishao is up in {elapsed:.1f}s\n"
        f"  intake API     {_intake_url(settings)}/api/v1/reports\n"
        f"  API docs       {_intake_url(settings)}/docs\n"
        f"  console        {_console_url(settings)}"
        f"   (accounts: {(settings.data_dir / 'accounts.json').resolve()})\n"
        f"  residents      {_console_url(settings)}r   (report a problem; SMS links open here)\n"
        f"  command centre {_supervision_url(settings)}/{_token_query(settings)}"
        "   (make demo plays the stories)\n"
        f"  monthly report {_supervision_url(settings)}/reports/monthly"
        "   (published: the ranking opens without a login)\n"
        f"  NATS           nats://127.0.0.1:{settings.nats_port}"
        f"  (monitor http://127.0.0.1:{settings.nats_monitor_port})\n"
        f"  Redis          redis://127.0.0.1:{settings.redis_port}/0\n"
        f"  data           {settings.data_dir.resolve()}\n"
        f"  API keys       {(settings.data_dir / 'api-keys.json').resolve()}\n"
        f"{clock_line(offset_seconds)}\n"
        "Press Ctrl-C to stop.\n"
    )


def _intake_url(settings: StackSettings) -> str:
    return f"http://{settings.http_host}:{settings.http_port}"


def _health_urls(settings: StackSettings) -> list[str]:
    """Every address the banner prints: it may only appear once all of them answer."""
    return [
        f"{_intake_url(settings)}/health",
        f"{_supervision_url(settings)}/health",
        f"{_console_url(settings)}health",
    ]


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _announce_when_ready(settings: StackSettings, started: float, redis_url: str) -> None:
    waiting = _health_urls(settings)
    deadline = time.monotonic() + 90
    while waiting and time.monotonic() < deadline:
        waiting = [url for url in waiting if not _answers(url)]
        if waiting:
            time.sleep(0.2)
    if waiting:
        print(f"chuishao: no answer within 90 s from {', '.join(waiting)}", file=sys.stderr)
        return
    offset = stack_offset(redis_url)
    print(banner(settings, time.monotonic() - started, offset), flush=True)


def run(settings: StackSettings) -> int:
    started = time.monotonic()
    data = settings.data_dir
    nats_server = NatsServer(
        settings.nats_port,
        data / "nats",
        monitor_port=settings.nats_monitor_port,
        sync_interval=settings.nats_sync_interval,
    )
    redis_server = RedisServer(settings.redis_port, data / "redis")
    with nats_server, redis_server:
        asyncio.run(_provision(nats_server.url))
        keys = local_keys(data)
        intake_url = f"http://{settings.http_host}:{settings.http_port}"
        env = {
            **os.environ,
            **intake_environment(keys),
            **console_environment(keys, local_accounts(data).resolve(), intake_url),
            # Generated on first start, kept in .data/secrets.json; the environment wins.
            **secrets_environment(local_secrets(data), dict(os.environ)),
            "CHUISHAO_NATS_URL": nats_server.url,
            "CHUISHAO_REDIS_URL": redis_server.url,
            "CHUISHAO_HTTP_HOST": settings.http_host,
            "CHUISHAO_HTTP_PORT": str(settings.http_port),
            "PYTHONUNBUFFERED": "1",
        }
        # One clock for the whole stack (real time until someone moves it), so `make demo`
        # and `make timetravel BY=+48h` can let deadlines fall due.
        env.setdefault("CHUISHAO_CLOCK", "shared")
        # The monthly report's 每月一题 rows link to this console's 主动立案 form.
        env.setdefault("CHUISHAO_SUPERVISION_CONSOLE_URL", _console_url(settings).rstrip("/"))
        # The demo district publishes its monthly ranking (aggregates; drill-downs need a
        # login): the report and its exports open without a credential.
        env.setdefault("CHUISHAO_PUBLIC_REPORT", "true")
        # The board needs a credential: a display token for the district's wall screen.
        board_token(data, redis_server.url)
        manager = Manager()
        for service in LOCAL_STACK:
            manager.add_process(service, f"{sys.executable} -m chuishao.{service}", env=env)
        threading.Thread(
            target=_announce_when_ready, args=(settings, started, redis_server.url), daemon=True
        ).start()
        manager.loop()
        return exit_status(manager.returncode)


# honcho's return code when it stopped everything because it was asked to.
ASKED_TO_STOP = (130, 143)  # SIGINT (Ctrl-C), SIGTERM


def exit_status(returncode: int | None) -> int:
    """0 for a stop someone asked for — Ctrl-C is how `make run` ends, not a failure
    (make would print `Error 130`); a service's own exit code when it died first."""
    if returncode is None or returncode in ASKED_TO_STOP:
        return 0
    return returncode


def main() -> None:
    parser = argparse.ArgumentParser(prog="chuishao-stack", description=__doc__)
    parser.add_argument("command", choices=["run"], help="run the whole system locally")
    parser.parse_args()
    sys.exit(run(StackSettings()))


if __name__ == "__main__":
    main()
