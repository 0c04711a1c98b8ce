import json

import pytest

from chuishao.common.logging import configure_logging


def test_phone_numbers_are_masked_in_log_lines(capsys: pytest.CaptureFixture[str]) -> None:
    log = configure_logging("test", fmt="json")
    log.info("reported", note="call me on 13800138000 please")
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert "13800138000" not in json.dumps(line)
    assert line["note"] == "call me on 138****8000 please"
    assert line["service"] == "test"
