"""structlog, configured once per process: JSON off a terminal, readable on one.

Every line goes through the one masking of chuishao.common.privacy, whichever way it is
written: structlog calls (their rendered tracebacks too) and stdlib records — uvicorn's
error and access loggers, library warnings — which reach one root handler with the same
renderer and the same masking. A 500's traceback prints masked like any other line.
"""

import logging
import re
import sys
from typing import Any, Literal

import structlog

from chuishao.common.privacy import MaskingFilter, mask_processor

# Loggers uvicorn writes to: their records go up to the root handler (services run
# uvicorn with log_config=None).
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")


class _RootHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler configure_logging installs on the root logger (replaced on reconfigure).

    It writes to whatever `sys.stdout` is when the line is written, like the structlog side:
    a stream captured at configure time may be closed later (a test's captured stdout, a
    supervisor's replaced pipe), and a log line must never fail on it."""

    @property
    def stream(self) -> Any:
        return sys.stdout

    @stream.setter
    def stream(self, _ignored: Any) -> None:
        pass  # StreamHandler.__init__ and setStream assign it; the live stdout always wins


def _stdlib_to_root(renderer: structlog.typing.Processor, level: int, service: str) -> None:
    def add_service(
        _logger: Any, _method: str, event_dict: structlog.typing.EventDict
    ) -> structlog.typing.EventDict:
        event_dict.setdefault("service", service)
        return event_dict

    handler = _RootHandler()
    handler.setLevel(level)
    handler.addFilter(MaskingFilter())
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.stdlib.add_logger_name,
                structlog.stdlib.add_log_level,
                add_service,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
                structlog.processors.format_exc_info,
                mask_processor,
            ],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _RootHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    # Libraries' chatter (httpx logs every request at INFO) stays out below WARNING.
    root.setLevel(max(level, logging.WARNING))
    # One path for every line: handlers uvicorn's own dictConfig gave its loggers (an
    # embedding that ran uvicorn with its default log_config) are removed, and their
    # records go up to the root handler, rendered and masked like the rest.
    for name in UVICORN_LOGGERS:
        uvicorn_logger = logging.getLogger(name)
        for existing in list(uvicorn_logger.handlers):
            uvicorn_logger.removeHandler(existing)
        uvicorn_logger.propagate = True


# FastStream 0.6's task supervisor logs "callback for Task-39 is being executed..." at INFO
# whenever a subscriber's task ends (every stop, every subscriber): a trace for its
# developers, not for people reading INFO logs. It is demoted to DEBUG here, in the one
# processor chain, so the logger FastStream is given stays the plain structlog logger.
_SUPERVISOR_TRACE = re.compile(r"^callback for \S+ is being executed")


def _demote_supervisor_trace(threshold: int) -> structlog.typing.Processor:
    def demote(
        _logger: Any, method: str, event_dict: structlog.typing.EventDict
    ) -> structlog.typing.EventDict:
        event = event_dict.get("event")
        at_info = method == "info" or event_dict.get("level") == "info"
        if at_info and isinstance(event, str) and _SUPERVISOR_TRACE.match(event):
            if threshold > logging.DEBUG:
                raise structlog.DropEvent
            event_dict["level"] = "debug"
        return event_dict

    return demote


def configure_logging(
    service: str, level: str = "INFO", fmt: Literal["auto", "json", "console"] = "auto"
) -> structlog.stdlib.BoundLogger:
    as_json = fmt == "json" or (fmt == "auto" and not sys.stdout.isatty())
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if as_json
        else structlog.dev.ConsoleRenderer(colors=sys.stdout.isatty())
    )
    numeric_level = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            _demote_supervisor_trace(numeric_level),
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            mask_processor,  # after format_exc_info: the traceback text is masked too
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        # No file given: PrintLogger then prints to the `sys.stdout` of the moment. A file
        # given here is kept by every cached logger, and writing to it after it is closed
        # (the stdout pytest captured for one test) raises inside the caller's code.
        logger_factory=structlog.PrintLoggerFactory(),
        cache_logger_on_first_use=True,
    )
    _stdlib_to_root(renderer, numeric_level, service)
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(service=service)
    return logger
