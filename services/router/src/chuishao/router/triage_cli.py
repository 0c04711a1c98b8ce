"""`python -m chuishao.router.triage --file FILE` (or texts on stdin): one text a line in,
one JSON object a line out:

    {"text", "category", "confidence", "route": "auto"|"manual", "danger": bool,
     "suggestions": [{"category", "confidence"}, …]}

`category` is the best category even when the route is manual, null only when nothing in
the text matches at all. The triage is the router's: the committed model behind the
keyword layer (data/triage.toml), and the danger detector.
"""

import argparse
import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from chuishao.router import danger
from chuishao.router.triage import KeywordTriage, ModelTriage, Triage, Vocabulary
from chuishao.router.triage_model import DEFAULT_PATH, NgramModel

TRIAGE_TOML = Path(__file__).parent / "data" / "triage.toml"


def load_triage(model_path: Path = DEFAULT_PATH, keywords_path: Path = TRIAGE_TOML) -> Triage:
    keywords = KeywordTriage(Vocabulary.load(keywords_path).keywords)
    if not model_path.exists():
        return keywords
    return ModelTriage(NgramModel.load(model_path), keywords)


def record(text: str, triage: Triage) -> dict[str, Any]:
    suggestion = triage.classify(text)
    threshold = getattr(triage, "threshold", 0.72)
    auto = suggestion.category is not None and (
        suggestion.auto if suggestion.auto is not None else suggestion.confidence >= threshold
    )
    return {
        "text": text,
        "category": suggestion.category,
        "confidence": suggestion.confidence,
        "route": "auto" if auto else "manual",
        "danger": danger.assess(text).danger,
        "suggestions": [
            {"category": s.category, "confidence": s.confidence} for s in suggestion.suggestions
        ],
    }


def classify_lines(lines: Iterable[str], triage: Triage) -> Iterator[dict[str, Any]]:
    for line in lines:
        text = line.rstrip("\r\n")
        if text.strip():
            yield record(text, triage)


def main(argv: list[str] | None = None, stdout: TextIO | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m chuishao.router.triage",
        description="Classify one text per line; one JSON object per line out.",
    )
    parser.add_argument("--file", type=Path, help="one text per line (default: stdin)")
    parser.add_argument("--model", type=Path, default=DEFAULT_PATH)
    args = parser.parse_args(argv)
    out = stdout or sys.stdout
    triage = load_triage(args.model)
    handle = args.file.open(encoding="utf-8") if args.file else sys.stdin
    try:
        for result in classify_lines(handle, triage):
            out.write(json.dumps(result, ensure_ascii=False) + "\n")
    finally:
        if args.file:
            handle.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
