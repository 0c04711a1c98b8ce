"""Write the published contract to schemas/ (run by `make schemas`): JSON Schemas of every
event and command, the AsyncAPI document, and intake's OpenAPI document."""

import json
import sys
from pathlib import Path

from chuishao.common.contract import documents
from chuishao.intake.app import create_app
from chuishao.intake.settings import IntakeSettings

ROOT = Path(__file__).resolve().parent.parent / "schemas"


def openapi_document() -> str:
    # The document never holds a secret; the app is built only to read its routes, so it
    # may have the test placeholders that a running service refuses.
    app = create_app(IntakeSettings(allow_test_secrets=True))
    return json.dumps(app.openapi(), indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    wanted = documents() | {"openapi.json": openapi_document()}
    for stale in ROOT.rglob("*.json"):
        if str(stale.relative_to(ROOT)) not in wanted:
            stale.unlink()
    for relative, text in wanted.items():
        path = ROOT / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    print(f"wrote {len(wanted)} files to {ROOT}", file=sys.stderr)


if __name__ == "__main__":
    main()
