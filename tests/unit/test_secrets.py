"""The services refuse the known default secrets (issue 12: a resident-link token forged
with `change-me-in-production` opened a ticket); `make run` generates its own on first
start and keeps them; compose must be given them."""

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from chuishao.common.settings import KNOWN_SECRETS, KnownSecretError
from chuishao.devstack.credentials import SECRETS, local_secrets, secrets_environment
from chuishao.intake.settings import IntakeSettings
from chuishao.notify.settings import NotifySettings

ROOT = Path(__file__).resolve().parents[2]


def environment_without_test_secrets() -> dict[str, str]:
    return {
        name: value
        for name, value in os.environ.items()
        if name
        not in {
            "CHUISHAO_ALLOW_TEST_SECRETS",
            "CHUISHAO_RESIDENT_LINK_SECRET",
            "CHUISHAO_REPORTER_REF_SECRET",
        }
    }


@pytest.mark.parametrize("service", ["intake", "notify"])
def test_a_service_refuses_to_start_with_the_default_secret(service: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", f"chuishao.{service}"],
        env=environment_without_test_secrets(),
        cwd=tmp_path,  # no .env here
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "CHUISHAO_RESIDENT_LINK_SECRET" in done.stderr
    assert "拒绝启动" in done.stderr


@pytest.mark.parametrize("settings_class", [IntakeSettings, NotifySettings])
def test_the_check_refuses_each_known_secret_and_passes_real_ones(
    settings_class: type[IntakeSettings] | type[NotifySettings],
) -> None:
    real = {"resident_link_secret": "r" * 43, "reporter_ref_secret": "p" * 43}
    settings_class(allow_test_secrets=False, **real).refuse_known_secrets()  # type: ignore[arg-type]
    for name in real:
        for known in KNOWN_SECRETS:
            settings = settings_class(allow_test_secrets=False, **(real | {name: known}))  # type: ignore[arg-type]
            with pytest.raises(KnownSecretError, match=f"CHUISHAO_{name.upper()}"):
                settings.refuse_known_secrets()
    # Only the test fixtures set this.
    settings_class(allow_test_secrets=True).refuse_known_secrets()


def test_make_run_generates_its_secrets_once_and_keeps_them(tmp_path: Path) -> None:
    first = local_secrets(tmp_path)
    assert set(first) == set(SECRETS)
    assert not set(first.values()) & KNOWN_SECRETS
    assert len(set(first.values())) == len(SECRETS)
    assert all(len(value) >= 32 for value in first.values())
    path = tmp_path / "secrets.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert local_secrets(tmp_path) == first  # links sent before a restart still open
    env = secrets_environment(first, {})
    assert env["CHUISHAO_RESIDENT_LINK_SECRET"] == first["resident_link_secret"]
    assert env["CHUISHAO_REPORTER_REF_SECRET"] == first["reporter_ref_secret"]
    # An operator's own secret in the environment wins.
    mine = secrets_environment(first, {"CHUISHAO_RESIDENT_LINK_SECRET": "x" * 40})
    assert "CHUISHAO_RESIDENT_LINK_SECRET" not in mine
    # What `make run` hands the services passes the check.
    IntakeSettings(
        allow_test_secrets=False,
        resident_link_secret=first["resident_link_secret"],
        reporter_ref_secret=first["reporter_ref_secret"],
    ).refuse_known_secrets()


def test_compose_requires_the_secrets_and_never_allows_test_ones() -> None:
    compose = (ROOT / "docker-compose.yml").read_text()
    assert "CHUISHAO_RESIDENT_LINK_SECRET: ${CHUISHAO_RESIDENT_LINK_SECRET:?" in compose
    assert "CHUISHAO_REPORTER_REF_SECRET: ${CHUISHAO_REPORTER_REF_SECRET:?" in compose
    assert "ALLOW_TEST_SECRETS" not in compose
