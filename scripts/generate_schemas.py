"""Write the published event contract to schemas/ (run by `make schemas`)."""

import sys
from pathlib import Path

from chuishao.common.contract import documents

ROOT = Path(__file__).resolve().parent.parent / "schemas"


def main() -> None:
    wanted = documents()
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
