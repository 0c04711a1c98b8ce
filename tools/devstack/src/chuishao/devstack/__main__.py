"""`chuishao-stack run`: nats-server and redis-server from wheels, streams declared,
the four services under honcho with prefixed logs; Ctrl-C stops it all."""

import argparse
import asyncio
import os
import sys
import threading
import time

import httpx
import nats
from honcho.manager import Manager

from chuishao.common.streams import provision
from chuishao.devstack.keys import intake_environment, local_keys
from chuishao.devstack.settings import StackSettings
from chuishao.embedded import NatsServer, RedisServer
from chuishao.embedded.services import SERVICES


async def _provision(url: str) -> None:
    connection = await nats.connect(url)
    try:
        await provision(connection.jetstream())
    finally:
        await connection.close()


def _supervision_url(settings: StackSettings) -> str:
    port = os.environ.get("CHUISHAO_SUPERVISION_HTTP_PORT", "8090")
    return f"http://{settings.http_host}:{port}"


def _announce_when_ready(settings: StackSettings, started: float) -> None:
    base = f"http://{settings.http_host}:{settings.http_port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    else:
        print("chuishao: intake did not become healthy within 60 s", file=sys.stderr)
        return
    print(
        f"\nchuishao is up in {time.monotonic() - started:.1f}s\n"
        f"  intake API     {base}/api/v1/reports\n"
        f"  API docs       {base}/docs\n"
        f"  command centre {_supervision_url(settings)}/   (make demo plays the stories)\n"
        f"  NATS           nats://127.0.0.1:{settings.nats_port}"
        f"  (monitor http://127.0.0.1:{settings.nats_monitor_port})\n"
        f"  Redis          redis://127.0.0.1:{settings.redis_port}/0\n"
        f"  data           {settings.data_dir.resolve()}\n"
        f"  API keys       {(settings.data_dir / 'api-keys.json').resolve()}\n"
        "Press Ctrl-C to stop.\n",
        flush=True,
    )


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
        env = {
            **os.environ,
            **intake_environment(keys),
            "CHUISHAO_NATS_URL": nats_server.url,
            "CHUISHAO_REDIS_URL": redis_server.url,
            "CHUISHAO_HTTP_HOST": settings.http_host,
            "CHUISHAO_HTTP_PORT": str(settings.http_port),
            "PYTHONUNBUFFERED": "1",
        }
        # One clock for the whole stack (real time until someone moves it), so `make demo`
        # and `python -m chuishao.sla.timetravel +48h` can let deadlines fall due.
        env.setdefault("CHUISHAO_CLOCK", "shared")
        manager = Manager()
        for service in SERVICES:
            manager.add_process(service, f"{sys.executable} -m chuishao.{service}", env=env)
        threading.Thread(target=_announce_when_ready, args=(settings, started), daemon=True).start()
        manager.loop()
        return manager.returncode or 0


def main() -> None:
    parser = argparse.ArgumentParser(prog="chuishao-stack", description=__doc__)
    parser.add_argument("command", choices=["run"], help="run the whole system locally")
    parser.parse_args()
    sys.exit(run(StackSettings()))


if __name__ == "__main__":
    main()
