"""The triage data files (corpus, dispatcher examples, blind set): UTF-8 TSV without a
header, one report a line, `category<TAB>danger<TAB>call<TAB>text`.

category: a catalogue code or `none`; danger: 1 when a danger is happening now, else 0;
call: the numbers to ring at once joined by `,` (`119`, `110`, `120`) or `-`."""

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

CORPUS_DIR = Path(__file__).resolve().parents[3] / "triage" / "corpus"
CALLS = ("119", "110", "120")


@dataclass(frozen=True)
class Row:
    category: str
    danger: bool
    call: tuple[str, ...]
    text: str
    source: str = ""  # file:line, for messages

    def line(self) -> str:
        call = ",".join(self.call) or "-"
        return f"{self.category}\t{int(self.danger)}\t{call}\t{self.text}"


class CorpusError(ValueError):
    pass


def parse_line(line: str, source: str = "") -> Row | None:
    """One row, or None for a blank line; a malformed line raises CorpusError."""
    line = line.rstrip("\r\n")
    if not line.strip():
        return None
    parts = line.split("\t")
    if len(parts) != 4:
        raise CorpusError(f"{source}: {len(parts)} columns, expected 4")
    category, danger, call, text = (part.strip() for part in parts)
    if danger not in {"0", "1"}:
        raise CorpusError(f"{source}: danger {danger!r} is not 0 or 1")
    calls = () if call in {"-", ""} else tuple(c.strip() for c in call.split(","))
    if any(c not in CALLS for c in calls):
        raise CorpusError(f"{source}: call {call!r}")
    if not category or not text:
        raise CorpusError(f"{source}: empty category or text")
    return Row(category, danger == "1", calls, text, source)


def read_rows(path: Path, *, strict: bool = False) -> tuple[list[Row], list[str]]:
    """The rows of one file and the problems of the lines left out (strict: raise)."""
    rows: list[Row] = []
    problems: list[str] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            try:
                row = parse_line(line, f"{path.name}:{number}")
            except CorpusError as error:
                if strict:
                    raise
                problems.append(str(error))
                continue
            if row is not None:
                rows.append(row)
    return rows, problems


def corpus_files(directory: Path = CORPUS_DIR) -> list[Path]:
    return sorted(directory.glob("*.tsv"))


def fingerprint(lines: Iterable[str]) -> str:
    digest = hashlib.sha256()
    for line in lines:
        digest.update(line.encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


def write_rows(rows: Iterable[Row]) -> Iterator[str]:
    for row in rows:
        yield row.line() + "\n"
