"""Residents' personal data out of logs and broadcast events: one masking function.

`mask_text` masks every shape a phone or ID-card number is typed in — mobiles with
+86 / 0086 / (+86) or full-width digits (１３８…), landlines with an area code
(010-62345678, (010)62345678, +86 10 6234 5678), ID-card numbers of 18 characters (the
last may be X) and the old ones of 15 digits — whatever people put between the digits:
runs of up to three spaces (tab, NBSP, ideographic, zero-width), dashes, slashes, commas,
dots or underscores (`139 - 1234 - 5678`, `110105 19491231 002X`). Dates, amounts
(1,280.50), coordinates (39.9087,116.3975), ticket ids and postcodes stay as they are.
And the surname before a form of address (李女士 → 某女士). Masking is idempotent: masked
text contains no run of digits long enough to match again. It is linear in the text:
separators and digits are disjoint classes, so no pattern can backtrack.

Everything else here applies it: `mask_event` to the free-text fields of an event as it
is encoded for a stream (publishing.encode: TICKETS, units' feeds), `mask_processor` to
structlog lines, `MaskingFilter` to stdlib records (uvicorn's error and access loggers,
tracebacks included). The ticket record in intake is the only place text stays whole.
"""

import logging
import re
from collections.abc import Mapping, MutableMapping
from functools import partial
from typing import Any, TypeVar

from pydantic import BaseModel

# A digit, ASCII or full-width; the X an ID card's last character may be.
_D = "[0-9０-９]"
_X = "[XxＸｘ]"
# What people type between the digits of one number, and the adversary's tricks: spaces
# (tab, NBSP, thin, ideographic, zero-width), hyphens and dashes of every width, tildes,
# slashes, commas, full stops and middle dots, underscores. No digit, X or bracket is
# one, and no line break (a number is written on one line). Disjoint from the digits, so
# each pattern below can match a position only one way: linear time, no backtracking blow-up.
SEPARATORS = "".join(
    [
        " \t\u00a0\u00ad\u202f\u205f\u2060\u3000\ufeff",
        *map(chr, range(0x2000, 0x200E)),  # en quad … thin space … zero-width joiner
        "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d~\uff5e\u301c",
        "/\uff0f,\uff0c.\uff0e\u00b7\u30fb\u2022\u3002_\uff3f",
    ]
)
MAX_GAP = 3  # `139 - 1234 - 5678`: a run of up to three separators between two digits
_S = f"[{re.escape(SEPARATORS)}]"
_GAP = f"{_S}{{0,{MAX_GAP}}}"
_NOT_DIGIT_BEFORE = f"(?<!{_D})"
_NOT_DIGIT_AFTER = f"(?!{_D})"


def _spaced(*digits: str) -> str:
    """These digit classes in order, a gap of separators allowed between any two."""
    return _GAP.join(digits)


def _digits(count: int) -> str:
    return f"(?:{_GAP}{_D}){{{count}}}"


# A birth date inside an ID-card number (1800-01-01 … 2099-12-31): it is what tells an
# ID card from a long order number or two dates written side by side.
_MONTH = f"(?:[0０]{_GAP}[1-9１-９]|[1１]{_GAP}[0-2０-２])"
_DAY = f"(?:[0０]{_GAP}[1-9１-９]|[12１２]{_GAP}{_D}|[3３]{_GAP}[01０１])"
_REGION = f"[1-9１-９]{_digits(5)}"  # six digits, the first not 0
_ID_CARD = re.compile(  # 18 characters, the last may be X: 6-8-4, 6-4-4-4, or none
    _NOT_DIGIT_BEFORE
    + f"(?P<number>{_REGION}{_GAP}(?:[1１]{_GAP}[89８９]|[2２]{_GAP}[0０]){_digits(2)}"
    + f"{_GAP}{_MONTH}{_GAP}{_DAY}{_digits(3)}{_GAP}(?:{_D}|{_X}))(?!{_D}|{_X})"
)
_OLD_ID_CARD = re.compile(  # 15 digits (before 1999): region, YYMMDD, three more
    _NOT_DIGIT_BEFORE
    + f"(?P<number>{_REGION}{_digits(2)}{_GAP}{_MONTH}{_GAP}{_DAY}{_digits(3)})(?!{_D}|{_X})"
)
# +86 / 0086 / (+86) / 86 before a number; a landline after it drops its leading 0.
_COUNTRY = "[(（]?(?:[+＋]|00|００)?[8８][6６][)）]?"
_MOBILE = re.compile(
    _NOT_DIGIT_BEFORE
    + f"(?P<prefix>{_COUNTRY}{_GAP})?"
    + f"(?P<number>{_spaced('[1１]', '[3-9３-９]')}{_digits(9)})"
    + _NOT_DIGIT_AFTER
)
# Area codes as they are (010, 02x, 0xxx), written without a gap inside: a date's
# `12-05 2026` is then no landline.
_AREA = f"(?:[1１][0０]|[2２]{_D}|[3-9３-９]{_D}{_D})"
_LANDLINE = re.compile(
    _NOT_DIGIT_BEFORE
    + "(?P<prefix>"
    + f"[(（][0０]{_AREA}[)）]{_GAP}"  # (010) 6234 5678
    + f"|[0０]{_AREA}{_GAP}"  # 010-62345678
    + f"|[(（]?(?:[+＋]|00|００)[8８][6６][)）]?{_GAP}(?:[(（][0０][)）])?[(（]?{_AREA}[)）]?{_GAP}"
    + ")"  # +86 10 6234 5678, +86 (0)10 62345678
    + f"(?P<number>[1-9１-９]{_digits(6)}(?:{_GAP}{_D})?)"
    + _NOT_DIGIT_AFTER
)
# A candidate: seven digits or more with the separators (and brackets, plus sign and
# trailing X) numbers are written with. The patterns above run only on these, not on
# the whole text (most text has none, and this scan is cheap). Possessive: a run is
# never re-split, so a long one costs one pass.
_RUN = re.compile(
    f"[(（+＋]{{0,2}}{_D}(?:[{re.escape(SEPARATORS)}()（）]{{0,{MAX_GAP}}}{_D}){{6,}}+{_X}?"
)
# Amounts and decimals stay: 1,280,000 / 12,345,678.90 / 131.2345678 (commas between
# groups of three, or one decimal point) are numbers people read, not dial.
_NUMERAL = re.compile(f"{_D}{{1,3}}(?:[,，]{_D}{{3}})+(?:[.．]{_D}+)?|{_D}+[.．]{_D}+")
# A surname before a form of address: 李女士 → 某女士 (欧阳先生 → 欧某先生: one character,
# so the word before a name is never eaten).
_FORMS = ("先生", "女士", "小姐", "师傅", "阿姨", "大爷", "大妈")
_ADDRESSED = re.compile(f"[\u4e00-\u9fff](?={'|'.join(_FORMS)})")
_DIGIT = re.compile(_D)
_SHOWN = re.compile(f"{_D}|{_X}")  # what `_keep_ends` counts: digits and an ID card's X

# Keys whose values never reach a log line at all: who a reporter is.
SECRET_KEYS = frozenset(
    {"reporter", "reporter_name", "reporter_phone", "phone", "phone_numbers", "email", "openid"}
)
REDACTED = "[redacted]"


def _keep_ends(match: re.Match[str], head: int, tail: int) -> str:
    if _NUMERAL.fullmatch(match.group(0)):
        return match.group(0)  # an amount or a decimal, not a number anyone dials
    shown = _SHOWN.findall(match.group("number"))
    prefix = match.groupdict().get("prefix") or ""
    hidden = "*" * (len(shown) - head - tail)
    return prefix + "".join(shown[:head]) + hidden + "".join(shown[-tail:])


# Most specific first: an ID card's 18 digits hold a mobile-looking run.
_NUMBERS = ((_ID_CARD, 3, 4), (_OLD_ID_CARD, 3, 4), (_MOBILE, 3, 4), (_LANDLINE, 0, 4))


def _mask_run(match: re.Match[str]) -> str:
    run = match.group(0)  # seven digits or more: numbers people dial or carry are longer
    for pattern, head, tail in _NUMBERS:
        run = pattern.sub(partial(_keep_ends, head=head, tail=tail), run)
    return run


def mask_text(text: str) -> str:
    """The text with every phone, landline and ID-card number and addressed name masked."""
    if _DIGIT.search(text):
        text = _RUN.sub(_mask_run, text)
    if any(form in text for form in _FORMS):
        text = _ADDRESSED.sub("某", text)
    return text


def mask_value(value: Any) -> Any:
    """Strings masked, containers walked; anything else as it is."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, Mapping):
        return {key: mask_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(mask_value(item) for item in value)
    return value


# Fields of events that carry text typed by someone outside (a resident, a unit's staff,
# a gateway's answer). Ids, codes and enums are never masked.
FREE_TEXT_FIELDS = frozenset(
    {"description", "note", "reason", "comment", "complaint", "attributes", "location"}
)
M = TypeVar("M", bound=BaseModel)


def _masked_field(value: Any) -> Any:
    if isinstance(value, BaseModel):  # a Location: its address is free text
        return mask_model(value, frozenset({"address"}))
    return mask_value(value)


def mask_model(model: M, fields: frozenset[str] = FREE_TEXT_FIELDS) -> M:
    """A copy of `model` with these fields masked (the same object if nothing changed)."""
    update = {}
    for name in fields & type(model).model_fields.keys():
        value = getattr(model, name)
        masked = _masked_field(value)
        if masked != value:
            update[name] = masked
    return model.model_copy(update=update) if update else model


def mask_event(event: M) -> M:
    """What of an event may be broadcast: its free text masked."""
    return mask_model(event)


def mask_processor(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog: after format_exc_info, so the rendered traceback is masked too."""
    for key, value in event_dict.items():
        event_dict[key] = REDACTED if key in SECRET_KEYS else mask_value(value)
    return event_dict


class MaskingFilter(logging.Filter):
    """stdlib logging: renders the message and the traceback and masks both before any
    formatter sees them (a formatter reuses `exc_text` when it is set)."""

    def filter(self, record: logging.LogRecord) -> bool:
        # Message and arguments masked apart, keeping their shape: uvicorn's access
        # formatter reads the arguments as a tuple.
        if isinstance(record.msg, str):
            record.msg = mask_text(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(mask_value(arg) for arg in record.args)
        elif isinstance(record.args, Mapping):
            record.args = mask_value(record.args)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info)
        return True
