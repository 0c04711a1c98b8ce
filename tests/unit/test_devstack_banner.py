"""`make run`'s banner tells a moved stack clock and where the console is, the demo accounts
cover every unit and role, and Ctrl-C is a clean stop (exit 0)."""

import json
import stat

import pytest

from chuishao.common.tokens import hash_api_key
from chuishao.devstack.__main__ import banner, clock_line, exit_status
from chuishao.devstack.credentials import (
    console_environment,
    intake_environment,
    local_accounts,
    local_keys,
    local_secrets,
    secrets_environment,
)
from chuishao.devstack.settings import StackSettings
from chuishao.router.directory import Directory
from chuishao.router.settings import RouterSettings


def test_real_time_is_said_plainly() -> None:
    assert clock_line(0.0).split() == ["stack", "clock", "real", "time"]
    assert "real time" in clock_line(0.2)  # less than a second off is no travel


def test_a_moved_clock_is_shown_with_the_way_back() -> None:
    line = clock_line(52 * 3600.0)
    assert "+2 days, 4:00:00" in line
    assert "make timetravel BY=0" in line
    assert "-1:00:00" in clock_line(-3600.0)


@pytest.mark.parametrize(
    ("honcho", "expected"),
    [(130, 0), (143, 0), (None, 0), (1, 1), (-9, -9)],
)
def test_a_stop_asked_for_exits_0_and_a_crash_does_not(honcho: int | None, expected: int) -> None:
    assert exit_status(honcho) == expected


def test_the_banner_shows_the_console_and_its_accounts_file(tmp_path) -> None:

    text = banner(StackSettings(data_dir=tmp_path), 3.2, 0.0)
    assert "  console        http://127.0.0.1:8070/" in text
    assert str(tmp_path.resolve() / "accounts.json") in text
    # The published monthly report (CHUISHAO_PUBLIC_REPORT, on in `make run`).
    assert "  monthly report http://127.0.0.1:8090/reports/monthly " in text


def test_the_demo_accounts_cover_every_unit_street_and_role(tmp_path) -> None:

    path = local_accounts(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    accounts = json.loads(path.read_text())
    directory = Directory.load(RouterSettings().directory_file)
    clerks = {a["unit"] for a in accounts if a["role"] == "clerk"}
    assert clerks == {unit.id for unit in directory.units}
    streets = {a["street"] for a in accounts if a["role"] == "command_centre"}
    assert streets == {street.code for street in directory.document.streets}
    roles = [a["role"] for a in accounts]
    for role in ("district", "city", "operator", "admin"):
        assert roles.count(role) == 1, role
    assert len({a["username"] for a in accounts}) == len(accounts)
    assert all(len(a["password"]) >= 12 for a in accounts)
    # A second start keeps the passwords it handed out.
    assert json.loads(local_accounts(tmp_path).read_text()) == accounts


def test_the_console_and_intake_share_the_key_and_the_person_secret(tmp_path) -> None:
    keys = local_keys(tmp_path)
    intake = intake_environment(keys)
    console = console_environment(keys, tmp_path / "accounts.json", "http://127.0.0.1:8080")
    assert json.loads(intake["CHUISHAO_CONSOLE_API_KEYS"]) == {
        hash_api_key(console["CHUISHAO_CONSOLE_API_KEY"]): "console"
    }
    assert console["CHUISHAO_CONSOLE_INTAKE_URL"] == "http://127.0.0.1:8080"
    # One generated secret, handed to every service (intake verifies, the console signs).
    kept = local_secrets(tmp_path)
    assert "CHUISHAO_PERSON_TOKEN_SECRET" in secrets_environment(kept, {})
