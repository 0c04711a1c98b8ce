"""Residents' personal data out of logs and broadcast events: one masking function.

`mask_text` masks every shape a phone or ID-card number is typed in — mobiles with
+86 / 0086 / (+86), spaces, dashes or full-width digits (１３８…), landlines with an area
code (010-62345678, (010)62345678), 18-digit ID-card numbers (last character may be X) —
and the surname before a form of address (李女士 → 某女士). Masking is idempotent: masked
text contains no run of digits long enough to match again.

Everything else here applies it: `mask_event` to the free-text fields of an event as it
is encoded for a stream (publishing.encode: TICKETS, units' feeds), `mask_processor` to
structlog lines, `MaskingFilter` to stdlib records (uvicorn's error and access loggers,
tracebacks included). The ticket record in intake is the only place text stays whole.
"""

import logging
import re
from collections.abc import Mapping, MutableMapping
from typing import Any, TypeVar

from pydantic import BaseModel

# A digit, ASCII or full-width; a single separator people type inside a number.
_D = "[0-9０-９]"
_SEP = "[ \u00a0\u3000\\-－‐.]"
_NOT_DIGIT_BEFORE = f"(?<!{_D})"
_NOT_DIGIT_AFTER = f"(?!{_D})"

_ID_CARD = re.compile(
    f"{_NOT_DIGIT_BEFORE}(?P<number>[1-9１-９]{_D}{{16}}[0-9０-９XxＸｘ])(?![0-9０-９XxＸｘ])"
)
_MOBILE = re.compile(
    _NOT_DIGIT_BEFORE
    + f"(?P<prefix>[(（]?(?:[+＋]|00|００)?[8８][6６][)）]?{_SEP}?)?"
    + f"(?P<number>[1１]{_SEP}?[3-9３-９](?:{_SEP}?{_D}){{9}})"
    + _NOT_DIGIT_AFTER
)
_LANDLINE = re.compile(
    _NOT_DIGIT_BEFORE
    + f"(?P<prefix>[(（][0０]{_D}{{2,3}}[)）]{_SEP}?|[0０]{_D}{{2,3}}{_SEP}?)"
    + f"(?P<number>{_D}(?:{_SEP}?{_D}){{6,7}})"
    + _NOT_DIGIT_AFTER
)
# A run of seven digits or more, with the separators people type (and the brackets, plus sign and
# trailing X numbers are written with): the three patterns above run only on these, not
# on the whole text (most text has none with seven digits, and this scan is cheap).
_RUN = re.compile(f"[(（+＋]*{_D}(?:[ \u00a0\u3000\\-－‐.()（）]{{0,2}}{_D}){{6,}}[XxＸｘ]?")
# A surname before a form of address: 李女士 → 某女士 (欧阳先生 → 欧某先生: one character,
# so the word before a name is never eaten).
_FORMS = ("先生", "女士", "小姐", "师傅", "阿姨", "大爷", "大妈")
_ADDRESSED = re.compile(f"[\u4e00-\u9fff](?={'|'.join(_FORMS)})")
_DIGIT = re.compile(_D)

# Keys whose values never reach a log line at all: who a reporter is.
SECRET_KEYS = frozenset(
    {"reporter", "reporter_name", "reporter_phone", "phone", "phone_numbers", "email", "openid"}
)
REDACTED = "[redacted]"


def _keep_ends(match: re.Match[str], head: int, tail: int) -> str:
    digits = _DIGIT.findall(match.group("number"))
    prefix = match.groupdict().get("prefix") or ""
    hidden = "*" * (len(digits) - head - tail)
    return prefix + "".join(digits[:head]) + hidden + "".join(digits[-tail:])


def _mask_run(match: re.Match[str]) -> str:
    run = match.group(0)  # seven digits or more: numbers people dial or carry are longer
    run = _ID_CARD.sub(lambda m: _keep_ends(m, 3, 4), run)
    run = _MOBILE.sub(lambda m: _keep_ends(m, 3, 4), run)
    return _LANDLINE.sub(lambda m: _keep_ends(m, 0, 4), run)


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
