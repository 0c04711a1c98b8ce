"""chuishao's own services as separate processes, as `make run` starts them: for the
end-to-end tests, the fault suite and the benchmark."""

import hashlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Self

import httpx

from chuishao.embedded.servers import StartedWhileUsed, free_port

SERVICES = ("intake", "router", "sla", "notify", "supervision")
# `make run` adds the console (the people's screens), which no event passes through; the
# pipeline's tests and benchmarks start it only when they ask for it.
WITH_CONSOLE = (*SERVICES, "console")
# `make run` also keeps the reward points ledger (docs/points.md); no other service waits
# on it, so the pipeline's tests, the fault suite and the benchmark leave it out.
LOCAL_STACK = (*WITH_CONSOLE, "points")
# The services without an HTTP port of their own.
METRICS = ("router", "sla", "notify", "points")


def console_key(key: str) -> dict[str, str]:
    """The console's key (its own setting) and its SHA-256 (intake's, as
    chuishao.common.tokens.hash_api_key makes it; this package does not depend on common)."""
    digest = hashlib.sha256(key.encode()).hexdigest()
    return {
        "CHUISHAO_CONSOLE_API_KEY": key,
        "CHUISHAO_CONSOLE_API_KEYS": json.dumps({digest: "console"}),
    }


class ServiceProcesses(StartedWhileUsed):
    def __init__(
        self,
        nats_url: str,
        redis_url: str,
        log_dir: Path,
        services: tuple[str, ...] = SERVICES,
        **extra_env: str,
    ) -> None:
        self.http_port = free_port()
        self.supervision_port = free_port()
        self.console_port = free_port()
        self.log_dir = log_dir
        self.services = services
        self.env = {
            # Fresh secrets per stack (the services refuse the known defaults); an
            # environment that sets its own keeps them.
            "CHUISHAO_RESIDENT_LINK_SECRET": secrets.token_urlsafe(32),
            "CHUISHAO_REPORTER_REF_SECRET": secrets.token_urlsafe(32),
            "CHUISHAO_PERSON_TOKEN_SECRET": secrets.token_urlsafe(32),
            **console_key(secrets.token_urlsafe(24)),
            **os.environ,
            "CHUISHAO_NATS_URL": nats_url,
            "CHUISHAO_REDIS_URL": redis_url,
            "CHUISHAO_HTTP_PORT": str(self.http_port),
            # Own ports, so a test stack never collides with a `make run` on the defaults.
            "CHUISHAO_SUPERVISION_HTTP_PORT": str(self.supervision_port),
            "CHUISHAO_CONSOLE_HTTP_PORT": str(self.console_port),
            "CHUISHAO_CONSOLE_INTAKE_URL": f"http://127.0.0.1:{self.http_port}",
            # Residents' SMS links open the console's pages of this stack.
            "CHUISHAO_RESIDENT_PAGE_URL": f"http://127.0.0.1:{self.console_port}/r",
            # The monthly report's 每月一题 rows link to this stack's console (主动立案).
            "CHUISHAO_SUPERVISION_CONSOLE_URL": f"http://127.0.0.1:{self.console_port}",
            **{f"CHUISHAO_{name.upper()}_METRICS_PORT": str(free_port()) for name in METRICS},
            "CHUISHAO_LOG_FORMAT": "json",
            "PYTHONUNBUFFERED": "1",
            **extra_env,
        }
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def supervision_url(self) -> str:
        return f"http://127.0.0.1:{self.supervision_port}"

    @property
    def console_url(self) -> str:
        return f"http://127.0.0.1:{self.console_port}"

    def metrics_url(self, service: str) -> str:
        """Where a FastStream-only service serves /metrics (intake and supervision serve
        it on their own HTTP port)."""
        return f"http://127.0.0.1:{self.env[f'CHUISHAO_{service.upper()}_METRICS_PORT']}/metrics"

    def start(self, timeout: float = 60.0) -> Self:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for name in self.services:
            self.start_one(name)
        self.wait_ready(timeout)
        return self

    def start_one(self, name: str) -> None:
        self._spawn(name, name, self.env)

    def add_replica(self, service: str) -> str:
        """Another process of a FastStream-only service, sharing its durable consumers
        (on its own metrics port); returns the name it is known by here."""
        number = 2
        while f"{service}-{number}" in self.processes:
            number += 1
        name = f"{service}-{number}"
        env = {**self.env, f"CHUISHAO_{service.upper()}_METRICS_PORT": str(free_port())}
        self._spawn(name, service, env)
        return name

    def _spawn(self, name: str, service: str, env: dict[str, str]) -> None:
        log = (self.log_dir / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", f"chuishao.{service}"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited early:\n{self.log(name)}")
            try:
                if all(httpx.get(url, timeout=1).status_code == 200 for url in self._health()):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError("services did not become ready:\n" + self.log("intake"))

    def _health(self) -> list[str]:
        urls = [f"{self.base_url}/health"]
        if "console" in self.services:
            urls.append(f"{self.console_url}/health")
        return urls

    def log(self, name: str) -> str:
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def pid(self, name: str) -> int:
        return self.processes[name].pid

    def stop_one(self, name: str, sig: int = signal.SIGTERM) -> int:
        process = self.processes.pop(name)
        process.send_signal(sig)
        try:
            return process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait()

    def stop(self) -> dict[str, int]:
        return {name: self.stop_one(name) for name in list(self.processes)}
