"""`make run` as a user starts it (no test secrets allowed): it signs residents' links
with secrets of its own, so a link forged with the old default secret opens nothing
(issue 12), and the command-centre URL its banner prints opens the board while the bare
address asks for a credential."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from chuishao.common.tokens import resident_token
from e2e.test_local_stack import (
    descendants,
    file_report,
    interrupt,
    stack_environment,
    stack_ports,
    wait_for,
)

pytestmark = pytest.mark.e2e


def start_stack(data_dir: Path, ports: dict[str, int], log: Path) -> subprocess.Popen[bytes]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("CHUISHAO_")  # as from a user's shell: no test secrets
    } | stack_environment(data_dir, ports)
    return subprocess.Popen(
        [sys.executable, "-m", "chuishao.devstack", "run"],
        env=env,
        cwd=data_dir.parent,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def test_make_run_signs_with_its_own_secrets_and_guards_the_board(tmp_path: Path) -> None:
    ports = stack_ports()
    base = f"http://127.0.0.1:{ports['http']}"
    data = tmp_path / ".data"
    log = tmp_path / "stack.log"
    stack = start_stack(data, ports, log)
    wait_for(log, "chuishao is up", stack)
    family = descendants(stack)
    try:
        kept = json.loads((data / "secrets.json").read_text())
        assert kept["resident_link_secret"] != "change-me-in-production"

        report = {
            "category": "fire_box",
            "description": "A-160车位旁消防箱玻璃碎了",
            "location": {"address": "和园小区 A-160"},
            "channel": "snap_it",
        }
        ticket_id = file_report(base, report)
        url = f"{base}/api/v1/tickets/{ticket_id}"
        forged = resident_token("change-me-in-production", ticket_id)
        refused = httpx.get(url, params={"token": forged})
        assert refused.status_code in (401, 403)
        assert "消防箱" not in refused.text
        own = resident_token(kept["resident_link_secret"], ticket_id)
        assert httpx.get(url, params={"token": own}).status_code == 200

        board = f"http://127.0.0.1:{ports['supervision']}"
        shown = re.search(r"command centre (\S+)", log.read_text())
        assert shown is not None
        assert shown.group(1).startswith(f"{board}/?token=disp_")
        assert httpx.get(f"{board}/").status_code == 401
        with httpx.Client(follow_redirects=True) as screen:
            opened = screen.get(shown.group(1))
            assert opened.status_code == 200
            assert "disp_" not in str(opened.url)
            assert "云溪区" in opened.text
    finally:
        assert interrupt(stack, family) == 0
