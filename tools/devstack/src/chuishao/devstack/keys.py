"""API keys for the local stack: made once per data directory, kept in
`<data>/api-keys.json` (readable only by you), handed to intake as hashes."""

import json
import os
import secrets
from pathlib import Path

from chuishao.common.tokens import hash_api_key
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
