"""`make run`'s stack: up with its URLs printed, README's commands work as written, Ctrl-C
is a clean stop (exit 0, no process behind, no debug chatter in the logs), a second start
still has the ticket and its banner shows a moved stack clock."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from chuishao.embedded import free_port

pytestmark = pytest.mark.e2e


LISTENERS = ("nats", "monitor", "redis", "http", "supervision", "console")
METERED = ("router", "sla", "notify", "points")  # the services without HTTP of their own


def stack_ports() -> dict[str, int]:
    """A free port for everything the stack listens on, so a `make run` left open on the
    machine (8070, 8090, 9101…) neither collides with the test nor answers for it."""
    return {name: free_port() for name in LISTENERS}


def stack_environment(data_dir: Path, ports: dict[str, int]) -> dict[str, str]:
    return {
        "CHUISHAO_DATA_DIR": str(data_dir),
        "CHUISHAO_NATS_PORT": str(ports["nats"]),
        "CHUISHAO_NATS_MONITOR_PORT": str(ports["monitor"]),
        "CHUISHAO_REDIS_PORT": str(ports["redis"]),
        "CHUISHAO_HTTP_PORT": str(ports["http"]),
        "CHUISHAO_SUPERVISION_HTTP_PORT": str(ports["supervision"]),
        "CHUISHAO_CONSOLE_HTTP_PORT": str(ports["console"]),
        **{f"CHUISHAO_{name.upper()}_METRICS_PORT": str(free_port()) for name in METERED},
    }


def start_stack(data_dir: Path, ports: dict[str, int], log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, **stack_environment(data_dir, ports)}
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


def interrupt(process: subprocess.Popen[bytes], family: list[psutil.Process]) -> int:
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
    code = process.wait(30)
    _, alive = psutil.wait_procs(family, timeout=15)
    assert alive == [], f"left behind: {[p.pid for p in alive]}"
    return code


def file_report(base: str, report: dict[str, Any]) -> str:
    """The report filed at `base` once intake takes it (503 while it starts): its id."""
    for _ in range(100):
        response = httpx.post(f"{base}/api/v1/reports", json=report)
        if response.status_code != 503:
            break
        time.sleep(0.1)
    assert response.status_code == 201, response.text
    return str(response.json()["ticket_id"])


ROOT = Path(__file__).resolve().parents[2]


def readme_commands(http_port: int) -> str:
    """README's shell blocks that talk to the API, as a user pastes them."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```bash\n(.*?)```", readme, re.DOTALL)
    script = "\n".join(block for block in blocks if "curl" in block)
    return script.replace("127.0.0.1:8080", f"127.0.0.1:{http_port}")


def test_run_serves_survives_restart_and_cleans_up(tmp_path: Path) -> None:
    ports = stack_ports()
    base = f"http://127.0.0.1:{ports['http']}"
    report = {
        "category": "oil_fumes_noise",
        "description": "楼下饭店油烟大、风机噪音到半夜",
        "location": {"address": "青石街道柳岸路 18 号"},
        "channel": "hotline_12345",
    }

    first_log = tmp_path / "first.log"
    data = tmp_path / ".data"  # where README's commands look, run from tmp_path
    stack = start_stack(data, ports, first_log)
    startup = wait_for(first_log, "chuishao is up", stack)
    assert f"{base}/api/v1/reports" in first_log.read_text()
    assert "stack clock    real time" in first_log.read_text()
    family = descendants(stack)
    assert len(family) >= 6  # nats-server, redis-server and four services
    ticket_id = file_report(base, report)

    # README's curl commands, pasted as they are: the id of the report they file is
    # captured, and the Open311 read and the keyed read find that very report.
    walked = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", readme_commands(ports["http"])],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert walked.returncode == 0, walked.stdout + walked.stderr
    readme_ticket = walked.stdout.splitlines()[0]
    assert re.fullmatch(r"T\d{14}", readme_ticket), walked.stdout
    assert f'"service_request_id":"{readme_ticket}"' in walked.stdout.replace(" ", "")
    assert f'"ticket_id":"{readme_ticket}"' in walked.stdout.replace(" ", "")

    # Time travel, as `make timetravel BY=+49h` runs it.
    moved = subprocess.run(
        [sys.executable, "-m", "chuishao.sla.timetravel", "--", "+49h"],
        env={**os.environ, "CHUISHAO_REDIS_URL": f"redis://127.0.0.1:{ports['redis']}/0"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert moved.returncode == 0, moved.stderr
    assert interrupt(stack, family) == 0  # Ctrl-C is how it ends: not `Error 130` in make
    print(f"stack up in {startup:.1f}s")
    first = first_log.read_text(errors="replace")
    assert "is being executed" not in first  # FastStream's task trace is not for INFO

    second_log = tmp_path / "second.log"
    stack = start_stack(data, ports, second_log)
    wait_for(second_log, "chuishao is up", stack)
    assert "stack clock    +2 days, 1:00:00 off real time" in second_log.read_text()
    assert "make timetravel BY=0" in second_log.read_text()
    family = descendants(stack)
    operator_key = json.loads((data / "api-keys.json").read_text())["operator"]
    ticket = httpx.get(
        f"{base}/api/v1/tickets/{ticket_id}", headers={"X-API-Key": operator_key}
    ).json()
    assert ticket["ticket_id"] == ticket_id
    assert ticket["description"] == report["description"]
    assert interrupt(stack, family) == 0
