"""`make run`'s stack: up with its URLs printed, a report goes through, Ctrl-C leaves no
process behind, and a second start still has the ticket."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from chuishao.embedded import free_port

pytestmark = pytest.mark.e2e


def start_stack(data_dir: Path, ports: dict[str, int], log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "CHUISHAO_DATA_DIR": str(data_dir),
        "CHUISHAO_NATS_PORT": str(ports["nats"]),
        "CHUISHAO_NATS_MONITOR_PORT": str(ports["monitor"]),
        "CHUISHAO_REDIS_PORT": str(ports["redis"]),
        "CHUISHAO_HTTP_PORT": str(ports["http"]),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "chuishao.devstack", "run"],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_for(log: Path, text: str, process: subprocess.Popen[bytes], timeout: float = 60) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if text in log.read_text(errors="replace"):
            return time.monotonic() - started
        assert process.poll() is None, log.read_text(errors="replace")
        time.sleep(0.1)
    raise AssertionError(f"{text!r} never appeared:\n{log.read_text(errors='replace')}")


def descendants(process: subprocess.Popen[bytes]) -> list[psutil.Process]:
    return psutil.Process(process.pid).children(recursive=True)


def interrupt(process: subprocess.Popen[bytes], family: list[psutil.Process]) -> None:
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
    process.wait(30)
    _, alive = psutil.wait_procs(family, timeout=15)
    assert alive == [], f"left behind: {[p.pid for p in alive]}"


def test_run_serves_survives_restart_and_cleans_up(tmp_path: Path) -> None:
    ports = {name: free_port() for name in ("nats", "monitor", "redis", "http")}
    base = f"http://127.0.0.1:{ports['http']}"
    report = {
        "category": "oil_fumes_noise",
        "description": "楼下饭店油烟大、风机噪音到半夜",
        "location": {"address": "青石街道柳岸路 18 号"},
        "channel": "hotline_12345",
    }

    first_log = tmp_path / "first.log"
    stack = start_stack(tmp_path / "data", ports, first_log)
    startup = wait_for(first_log, "chuishao is up", stack)
    assert f"{base}/api/v1/reports" in first_log.read_text()
    family = descendants(stack)
    assert len(family) >= 6  # nats-server, redis-server and four services
    for _ in range(100):
        response = httpx.post(f"{base}/api/v1/reports", json=report)
        if response.status_code != 503:
            break
        time.sleep(0.1)
    assert response.status_code == 201, response.text
    ticket_id = response.json()["ticket_id"]
    interrupt(stack, family)
    print(f"stack up in {startup:.1f}s")

    second_log = tmp_path / "second.log"
    stack = start_stack(tmp_path / "data", ports, second_log)
    wait_for(second_log, "chuishao is up", stack)
    family = descendants(stack)
    operator_key = json.loads((tmp_path / "data" / "api-keys.json").read_text())["operator"]
    ticket = httpx.get(
        f"{base}/api/v1/tickets/{ticket_id}", headers={"X-API-Key": operator_key}
    ).json()
    assert ticket["ticket_id"] == ticket_id
    assert ticket["description"] == report["description"]
    interrupt(stack, family)
