import json
import sys

import pytest

from chuishao.common.logging import configure_logging


def test_phone_numbers_are_masked_in_log_lines(capsys: pytest.CaptureFixture[str]) -> None:
    log = configure_logging("test", fmt="json")
    log.info("reported", note="call me on 13800138000 please")
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert "13800138000" not in json.dumps(line)
    assert line["note"] == "call me on 138****8000 please"
    assert line["service"] == "test"


def test_a_line_after_the_configure_time_stdout_is_closed_goes_to_the_stdout_of_now(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Configured while stdout was a stream that is closed later (one test's captured
    stdout): the next line, from structlog or from the standard library, must neither
    raise nor vanish. Found by CI: four outbox tests failed writing to a closed file."""
    import io
    import logging

    import structlog

    earlier = io.StringIO()
    with monkeypatch.context() as patch:
        patch.setattr(sys, "stdout", earlier)
        configure_logging("closed-test", fmt="json")
        structlog.get_logger("cached").info("while_open")  # caches its logger on first use
    earlier.close()

    structlog.get_logger("cached").info("after_close")
    logging.getLogger("lib").warning("library_line")
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["event"] for line in lines] == ["after_close", "library_line"]
