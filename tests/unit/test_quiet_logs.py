"""INFO logs are for people: FastStream's per-task supervisor trace ("callback for
Task-39 is being executed...") goes to DEBUG; everything else it logs passes unchanged."""

import json
import logging

import pytest

from chuishao.common.logging import configure_logging


def test_the_task_trace_is_debug_and_the_rest_goes_through(
    capsys: pytest.CaptureFixture[str],
) -> None:
    logger = configure_logging("quiet-test", "INFO", "json")
    logger.log(logging.INFO, "callback for Task-39 is being executed...", extra=None)
    logger.log(logging.INFO, "subscriber `x` started", extra=None)
    logger.log(logging.ERROR, "callback for Task-40 is being executed...", extra=None)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(line["event"], line["level"]) for line in lines] == [
        ("subscriber `x` started", "info"),
        ("callback for Task-40 is being executed...", "error"),  # only the INFO trace moves
    ]


def test_at_debug_the_trace_is_still_there(capsys: pytest.CaptureFixture[str]) -> None:
    logger = configure_logging("quiet-test", "DEBUG", "json")
    logger.log(logging.INFO, "callback for Task-39 is being executed...", extra=None)
    [line] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert line["level"] == "debug"
