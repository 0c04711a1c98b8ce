"""API keys and secrets for the local stack: made once per data directory, kept in
`<data>/api-keys.json` and `<data>/secrets.json` (readable only by you); the keys are
handed to the services as hashes, the secrets as they are (the services refuse the
known defaults, so `make run` never signs residents' links with one)."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

from chuishao.common.tokens import hash_api_key, new_secret
from chuishao.router.directory import Directory
from chuishao.router.settings import RouterSettings


def local_keys(data_dir: Path) -> dict[str, object]:
    path = data_dir / "api-keys.json"
    keys: dict[str, object] = json.loads(path.read_text()) if path.exists() else {}
    units = keys.setdefault("units", {})
    assert isinstance(units, dict)
    for unit in Directory.load(RouterSettings().directory_file).units:
        units.setdefault(unit.id, secrets.token_urlsafe(24))
    keys.setdefault("operator", secrets.token_urlsafe(24))
    keys.setdefault("open311", secrets.token_urlsafe(24))
    data_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(keys, indent=2, ensure_ascii=False))
    os.chmod(path, 0o600)
    return keys


def intake_environment(keys: dict[str, object]) -> dict[str, str]:
    units = keys["units"]
    assert isinstance(units, dict)
    return {
        "CHUISHAO_UNIT_API_KEYS": json.dumps({hash_api_key(k): u for u, k in units.items()}),
        "CHUISHAO_OPERATOR_API_KEYS": json.dumps({hash_api_key(str(keys["operator"])): "hotline"}),
        "CHUISHAO_OPEN311_API_KEYS": json.dumps({hash_api_key(str(keys["open311"])): "local"}),
    }


SECRETS = ("resident_link_secret", "reporter_ref_secret")


def local_secrets(data_dir: Path) -> dict[str, str]:
    """The stack's signing secrets, generated on first start and kept: residents' links
    sent before a restart must still open after it."""
    path = data_dir / "secrets.json"
    kept: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    for name in SECRETS:
        kept.setdefault(name, new_secret())
    data_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(kept, indent=2))
    os.chmod(path, 0o600)
    return kept


def secrets_environment(kept: dict[str, str], environ: dict[str, str]) -> dict[str, str]:
    """CHUISHAO_<NAME> for each secret, unless the environment already sets it."""
    variables = {f"CHUISHAO_{name.upper()}": kept[name] for name in SECRETS}
    return {name: value for name, value in variables.items() if name not in environ}


def board_token(data_dir: Path, redis_url: str) -> str | None:
    """A display token for the district's board, kept in `<data>/display-token` (made
    again when it no longer works), so the banner can print a URL that opens the page."""
    district = Directory.load(RouterSettings().directory_file).document.districts[0].code
    command = [
        *(sys.executable, "-m", "chuishao.supervision.display", "ensure"),
        *("--district", district, "--label", "make run"),
        *("--token-file", str(data_dir / "display-token")),
    ]
    done = subprocess.run(
        command,
        env={**os.environ, "CHUISHAO_REDIS_URL": redis_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.stdout.strip() if done.returncode == 0 else None
