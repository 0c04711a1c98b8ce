"""structlog, configured once per process: JSON off a terminal, readable on one."""

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, Literal

import structlog

# Defence in depth: reporters' phone numbers are kept out of log calls by design, and
# anything that still looks like one is masked before a line is written.
_PHONE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")


def _mask(value: Any) -> Any:
    if isinstance(value, str):
        return _PHONE.sub(r"\1****\2", value)
    return value


def mask_phone_numbers(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key, value in event_dict.items():
        event_dict[key] = _mask(value)
    return event_dict


def configure_logging(
    service: str, level: str = "INFO", fmt: Literal["auto", "json", "console"] = "auto"
) -> structlog.stdlib.BoundLogger:
    as_json = fmt == "json" or (fmt == "auto" and not sys.stdout.isatty())
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if as_json
        else structlog.dev.ConsoleRenderer(colors=sys.stdout.isatty())
    )
    numeric_level = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            mask_phone_numbers,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=True,
    )
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(service=service)
    return logger
