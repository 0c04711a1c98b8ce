"""Names that say one thing (#14): the names that meant two or three things across the
services were renamed, and must not come back. Read from the sources, so a name defined
anywhere in the project counts, imported or not."""

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [
    path
    for top in ("libs", "services", "tools")
    for path in (ROOT / top).glob("*/src/chuishao/**/*.py")
]

# Each of these meant more than one thing; what it became, once each.
RENAMED = {
    "Outcome": ("RoutingResult", "BatchReport"),
    "TicketFacts": ("Audience", "SupervisedTicket"),
    "TicketStore": ("RecordStore", "SlaStateStore"),
    "Policy": ("SlaPolicy", "RetentionPolicy", "RoutingPolicy"),
}


def classes() -> dict[str, set[str]]:
    """Class name → the modules that define it (top level)."""
    found: dict[str, set[str]] = defaultdict(set)
    for path in SOURCES:
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ClassDef):
                found[node.name].add(str(path.relative_to(ROOT)))
    return found


def test_the_names_that_meant_several_things_are_gone() -> None:
    defined = classes()
    assert SOURCES
    for old, new_names in RENAMED.items():
        assert old not in defined, f"{old} is back in {sorted(defined[old])}"
        for new in new_names:
            assert len(defined[new]) == 1, f"{new}: {sorted(defined[new])}"


def test_keys_modules_hold_redis_keys_and_there_is_one_outbox() -> None:
    modules = [path.relative_to(ROOT) for path in SOURCES]
    keys = sorted(str(path) for path in modules if path.name == "keys.py")
    # Only Redis key layouts are called keys.py (API keys: intake.api_keys; the local
    # stack's secrets: devstack.credentials).
    assert keys == [
        "services/notify/src/chuishao/notify/keys.py",
        "services/points/src/chuishao/points/keys.py",
        "services/router/src/chuishao/router/keys.py",
        "services/sla/src/chuishao/sla/keys.py",
        "services/supervision/src/chuishao/supervision/keys.py",
    ]
    outboxes = [str(path) for path in modules if path.name == "outbox.py"]
    assert outboxes == ["libs/common/src/chuishao/common/outbox.py"]
