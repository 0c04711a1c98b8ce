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

# The demo's starter knowledge base, beside this file (the console seeds it on start).
KNOWLEDGE = Path(__file__).resolve().with_name("knowledge.toml")


def local_keys(data_dir: Path) -> dict[str, object]:
    path = data_dir / "api-keys.json"
    keys: dict[str, object] = json.loads(path.read_text()) if path.exists() else {}
    units = keys.setdefault("units", {})
    assert isinstance(units, dict)
    for unit in Directory.load(RouterSettings().directory_file).units:
        units.setdefault(unit.id, secrets.token_urlsafe(24))
    keys.setdefault("operator", secrets.token_urlsafe(24))
    keys.setdefault("open311", secrets.token_urlsafe(24))
    keys.setdefault("console", secrets.token_urlsafe(24))
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
        "CHUISHAO_CONSOLE_API_KEYS": json.dumps({hash_api_key(str(keys["console"])): "console"}),
    }


def console_environment(keys: dict[str, object], accounts: Path, intake_url: str) -> dict[str, str]:
    """The console's own key at intake, where intake answers, and the demo accounts it
    adds on start (only those not there yet: a reset password stays reset)."""
    return {
        "CHUISHAO_CONSOLE_API_KEY": str(keys["console"]),
        "CHUISHAO_CONSOLE_INTAKE_URL": intake_url,
        "CHUISHAO_CONSOLE_SEED_ACCOUNTS": str(accounts),
        # Starter answers for the 12345 seat's knowledge base (直接答复).
        "CHUISHAO_CONSOLE_SEED_KNOWLEDGE": str(KNOWLEDGE),
    }


def demo_accounts(directory: Directory) -> list[dict[str, str]]:
    """One clerk for every unit (named by the unit's id), one command-centre account per
    street, one per district, one city, one operator, one admin; no passwords yet."""
    document = directory.document
    accounts = [{"username": unit.id, "role": "clerk", "unit": unit.id} for unit in directory.units]
    accounts += [
        {"username": f"{street.code}-centre", "role": "command_centre", "street": street.code}
        for street in document.streets
    ]
    accounts += [
        {"username": f"{district.code}-district", "role": "district", "district": district.code}
        for district in document.districts
    ]
    accounts += [
        {"username": "city", "role": "city"},
        {"username": "operator", "role": "operator"},
        {"username": "admin", "role": "admin"},
    ]
    return accounts


def local_accounts(data_dir: Path) -> Path:
    """`<data>/accounts.json` (mode 0600): the demo accounts with generated passwords,
    [{"username", "password", "role", "unit" | "street" | "district"}]; made on first
    start and kept (a unit added to the directory later gets its clerk added)."""
    path = data_dir / "accounts.json"
    kept: list[dict[str, str]] = json.loads(path.read_text()) if path.exists() else []
    known = {account["username"] for account in kept}
    for account in demo_accounts(Directory.load(RouterSettings().directory_file)):
        if account["username"] not in known:
            kept.append({**account, "password": secrets.token_urlsafe(12)})
    data_dir.mkdir(parents=True, exist_ok=True)
    # 0600 before a password is written into it.
    path.touch(mode=0o600, exist_ok=True)
    os.chmod(path, 0o600)
    path.write_text(json.dumps(kept, indent=2, ensure_ascii=False))
    return path


SECRETS = ("resident_link_secret", "reporter_ref_secret", "person_token_secret")


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
