"""Speed for the danger lexicon's big alternations: a lookahead on the characters a match
can start with.

Python's `re` tries a pattern like `(撬|进了|有人(正在|在)?偷…)@near@…|…` at every position
of the text; a leading `(?=[撬进有…])` lets it skip the positions where no alternative
can begin, which is most of them (4–6× faster on the long families, same matches). The
set is computed from the parsed pattern (the FIRST set of the grammar); a pattern that
can start with any character (`.`, `\\w`, a negated class, a back-reference) or match the
empty string is left as it is.
"""

import importlib
import re
from typing import Any

# `re._parser` is the stdlib parser behind re.compile (sre_parse, deprecated as a public
# name since 3.11); typeshed has no stub for the private name.
_parser: Any = importlib.import_module("re._parser")
_c: Any = importlib.import_module("re._constants")
_MAX_RANGE = 256  # a wider class ([一-龥]) is "any character" for this purpose

Items = Any  # a parsed (sub)pattern: a sequence of (opcode, argument)


def _first_of_sequence(items: Items) -> tuple[set[str] | None, bool]:
    """The characters a sequence can start with (None: any) and whether it can be empty."""
    found: set[str] = set()
    for op, arg in items:
        first, nullable = _first_of_item(op, arg)
        if first is None:
            return None, False
        found |= first
        if not nullable:
            return found, False
    return found, True


def _first_of_item(op: Any, arg: Any) -> tuple[set[str] | None, bool]:
    if op is _c.LITERAL:
        return {chr(arg)}, False
    if op is _c.IN:
        chars: set[str] = set()
        for inner_op, inner_arg in arg:
            if inner_op is _c.LITERAL:
                chars.add(chr(inner_arg))
            elif inner_op is _c.RANGE and inner_arg[1] - inner_arg[0] < _MAX_RANGE:
                chars |= {chr(c) for c in range(inner_arg[0], inner_arg[1] + 1)}
            else:  # a negated class, \w, \d …
                return None, False
        return chars, False
    if op is _c.BRANCH:
        union: set[str] = set()
        nullable = False
        for branch in arg[1]:
            first, empty = _first_of_sequence(branch)
            if first is None:
                return None, False
            union |= first
            nullable = nullable or empty
        return union, nullable
    if op is _c.SUBPATTERN:
        return _first_of_sequence(arg[-1])
    if op in (_c.MAX_REPEAT, _c.MIN_REPEAT, getattr(_c, "POSSESSIVE_REPEAT", None)):
        low, _high, item = arg
        first, empty = _first_of_sequence(item)
        return first, empty or low == 0
    if op in (_c.AT, _c.ASSERT, _c.ASSERT_NOT):  # consume nothing
        return set(), True
    return None, False


def first_chars(pattern: str) -> frozenset[str] | None:
    """Every character a match of `pattern` can start with; None when that is any."""
    first, nullable = _first_of_sequence(_parser.parse(pattern))
    if first is None or nullable or not first:
        return None
    return frozenset(first)


def compile_fast(pattern: str) -> re.Pattern[str]:
    """`re.compile(pattern)`, led by a lookahead on its first characters when it has a
    finite set of them: the same matches (the lookahead consumes nothing)."""
    first = first_chars(pattern)
    if first is None:
        return re.compile(pattern)
    lead = "".join(re.escape(c) for c in sorted(first))
    return re.compile(f"(?=[{lead}])(?:{pattern})")
