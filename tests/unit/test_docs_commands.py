"""Every command README.md and docs/*.md show runs as written on a fresh clone: each
`make T` names a target of the Makefile, each `python -m M` runs in the project's
interpreter (.venv/bin/python, which `make sync` builds) and M imports, each script path
exists. Commands come from fenced bash/sh blocks and from inline `make …` / `python …` spans.
"""

import importlib.util
import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL_BLOCKS = ("bash", "sh", "shell", "console")
SEPARATORS = {"|", "||", "&&", ";", "(", ")", "&"}
# Programs a reader is expected to have; anything else must be written as a path.
EVERYWHERE = {
    "curl", "python3", "printf", "openssl", "cat", "echo", "export", "cd", "docker", "git",
}  # fmt: skip
PROJECT_PYTHON = ".venv/bin/python"
FENCE = re.compile(r"^```(\w*)\s*$")
INLINE = re.compile(r"`([^`]+)`")
INLINE_COMMAND = re.compile(r"^(make|python3?|\.venv/bin/python|uv|\.tools/bin/uv) ")


@dataclass(frozen=True)
class Command:
    where: str
    words: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.where}: {' '.join(self.words)}"


def _split(text: str, where: str) -> list[Command]:
    lexer = shlex.shlex(text, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    commands: list[Command] = []
    words: list[str] = []
    for token in [*lexer, ";"]:
        if token in SEPARATORS:
            while words and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0]):
                words.pop(0)  # VAR=value before a command (or a capture `VAR=$(…)`)
            if words and words != ["$"]:
                commands.append(Command(where, tuple(words)))
            words = []
        else:
            words.append(token)
    return commands


def _block_commands(lines: list[str], where: str) -> list[Command]:
    """One command per line, except where a quote or a trailing backslash carries on."""
    commands: list[Command] = []
    buffer = ""
    for line in lines:
        buffer += line.removesuffix("\\") + ("" if line.endswith("\\") else "\n")
        if line.endswith("\\"):
            continue
        try:
            commands += _split(buffer, where)
        except ValueError:  # an open quote: the command goes on
            continue
        buffer = ""
    assert not buffer.strip(), f"{where}: unterminated command {buffer!r}"
    return commands


def documented_commands() -> list[Command]:
    commands: list[Command] = []
    for document in DOCUMENTS:
        name = document.relative_to(ROOT).as_posix()
        text = document.read_text(encoding="utf-8")
        prose: list[str] = []
        block: list[str] | None = None
        language = ""
        start = 0
        for number, line in enumerate(text.splitlines(), 1):
            fence = FENCE.match(line)
            if fence and block is None:
                block, language, start = [], fence.group(1), number
            elif line.startswith("```") and block is not None:
                if language in SHELL_BLOCKS:
                    commands += _block_commands(block, f"{name}:{start}")
                block = None
            elif block is not None:
                block.append(line)
            else:
                prose.append(line)
        for raw in INLINE.findall("\n".join(prose)):
            span = " ".join(raw.split())  # a span may wrap across lines
            if INLINE_COMMAND.match(span):
                commands += _split(span, f"{name} `{span}`")
    return commands


def make_targets() -> set[str]:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([A-Za-z0-9_-]+):", makefile, re.MULTILINE))


def problem(command: Command, targets: set[str]) -> str | None:
    """Why the command would not run as written on a fresh clone, or None."""
    program, *args = command.words
    if program == "make":
        for arg in args:
            if "=" in arg:
                continue
            if arg.startswith("-"):
                return f"make takes no option {arg}; pass VAR=value"
            if arg not in targets:
                return f"no make target {arg!r}"
        return None
    if program in ("python", "uv") or (program == "python3" and args[:1] == ["-m"]):
        if program == "python3" and not args[1:2][0].startswith("chuishao"):
            return None  # a module of the standard library
        return f"{program} has no chuishao on a fresh clone; use {PROJECT_PYTHON} or make"
    if program in (PROJECT_PYTHON, ".tools/bin/uv"):
        if program == ".tools/bin/uv":
            if args[:2] != ["run", "python"]:
                return None
            args = args[2:]
        if args[:1] == ["-m"]:
            module = args[1]
            return None if importlib.util.find_spec(module) else f"no module {module}"
        if args and not args[0].startswith("-"):
            return None if (ROOT / args[0]).exists() else f"no script {args[0]}"
        return None
    if "/" in program:
        return None if (ROOT / program).exists() else f"no script {program}"
    if program in EVERYWHERE or program.startswith("$"):
        return None
    return f"{program!r} is not shipped; write a make target or a path"


def test_the_documents_show_commands() -> None:
    commands = documented_commands()
    programs = {c.words[0] for c in commands}
    assert {"make", "curl", PROJECT_PYTHON} <= programs, programs
    assert any(c.words[:2] == ("make", "timetravel") for c in commands)


@pytest.mark.parametrize("command", documented_commands(), ids=str)
def test_each_documented_command_runs_as_written(command: Command) -> None:
    why = problem(command, make_targets())
    assert why is None, f"{command}: {why}"


@pytest.mark.parametrize(
    ("by", "argument"),
    [("+49h", "+49h"), ("-1h", "-1h"), ("0", "reset"), ("reset", "reset"), (None, "show")],
)
def test_make_timetravel_moves_shows_and_resets(by: str | None, argument: str) -> None:
    """`make timetravel BY=…` runs the module with the offset as its argument (after `--`,
    so a negative one is not taken for an option); BY=0 puts the clock back."""
    words = ["make", "--dry-run", "--always-make", "timetravel", *([f"BY={by}"] if by else [])]
    dry = subprocess.run(words, cwd=ROOT, capture_output=True, text=True, check=True)
    assert f"python -m chuishao.sla.timetravel -- {argument}\n" in dry.stdout, dry.stdout


def test_the_readme_never_names_a_ticket_id_it_cannot_know() -> None:
    """Ticket ids are dated: a command with a literal one fails on any other day."""
    readme = [c for c in documented_commands() if c.where.startswith("README.md")]
    literal = [str(c) for c in readme if any(re.search(r"T\d{14}", word) for word in c.words)]
    assert literal == []
    assert any("$TICKET" in " ".join(c.words) for c in readme)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("make run", None),
        ("make nope", "no make target 'nope'"),
        ("make bench --quick", "make takes no option --quick; pass VAR=value"),
        ("make timetravel BY=+49h", None),
        ("python -m chuishao.sla.timetravel +48h", "chuishao"),
        (".venv/bin/python -m chuishao.sla.timetravel show", None),
        (".venv/bin/python -m chuishao.no_such_module", "no module"),
        (".venv/bin/python benchmarks/nothing.py", "no script"),
        ("nats req a.b '{}'", "not shipped"),
        ("X=1 .venv/bin/python -m chuishao.router", None),
        ("T=$(curl -s x | python3 -c 'print(1)') && curl -s y/$T.json", None),
    ],
)
def test_the_checker_itself(text: str, expected: str | None) -> None:
    [*commands] = _split(text, "here")
    found = [problem(command, make_targets()) for command in commands]
    if expected is None:
        assert found == [None] * len(found)
    else:
        assert any(expected in (p or "") for p in found), found
