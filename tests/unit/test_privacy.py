"""Residents' numbers and names out of logs and broadcast events: every shape masked,
whichever way a line is written, tracebacks included."""

import json
import logging
import time

import pytest

from chuishao.common.commands import Reporter, SubmitReport
from chuishao.common.events import DeliveryFailed, TicketDeclined, parse_event
from chuishao.common.logging import configure_logging
from chuishao.common.privacy import SEPARATORS, mask_event, mask_text
from chuishao.common.publishing import encode
from support.factories import submitted

NUMBERS = [
    "13812345678",
    "+8613812345678",
    "+86 138 1234 5678",
    "0086-138-1234-5678",
    "(+86)13812345678",
    "138 1234 5678",
    "138-1234-5678",
    "１３８１２３４５６７８",
    "010-62345678",
    "(010)62345678",
    "（010）6234 5678",
    "0755-1234567",
    "110101199003071234",
    "11010119900307123X",
    # What an outside reviewer got through: runs of separators of any kind between digits.
    "139 - 1234 - 5678",
    "139  1234  5678",
    "139\t1234\t5678",
    "139/1234/5678",
    "139,1234,5678",
    "139·1234·5678",
    "139．1234．5678",
    "139\u30001234\u30005678",
    "139\u00a01234\u00a05678",
    "139\u20091234\u20095678",
    "139\u200b1234\u200b5678",  # zero-width spaces
    "139–1234–5678",
    "139—1234—5678",
    "139－1234－5678",
    "139／1234／5678",
    "139，1234，5678",
    "139_1234_5678",
    "+86 139 - 1234 - 5678",
    "010 - 6234 - 5678",
    # Landlines after +86 drop their leading 0.
    "+86 10 6234 5678",
    "(+86) 10-62345678",
    "+86 (0)10 6234 5678",
    "0086 755 8888 6666",
    # ID cards grouped 6-8-4 or 6-4-4-4, and the 15-digit ones issued before 1999.
    "110105 19491231 002X",
    "110105-1949-1231-002X",
    "110105\u300019491231\u3000002X",
    "110105491231002",
    "110105 491231 002",
]


@pytest.mark.parametrize("number", NUMBERS)
def test_every_shape_of_a_number_is_masked(number: str) -> None:
    masked = mask_text(f"请联系李女士，电话{number}，谢谢")
    digits = "".join(ch for ch in masked if ch.isdigit())
    assert number not in masked
    # The middle digits are gone: the code and the ends at most remain.
    assert "***" in masked, masked
    assert len(digits) <= sum(ch.isdigit() for ch in number) - 3, masked
    assert "李" not in masked
    assert "某女士" in masked
    assert mask_text(masked) == masked  # idempotent: a masked line masks to itself


@pytest.mark.parametrize(
    "text",
    [
        "T20261121000001 已派单",
        "lat 39.9087 long 116.3975",
        "2026-11-21T08:00:00+08:00",
        "event 0193a5c2-7f3e-7c00-8a55-8c1d0f3c7e21",
        "A-160车位旁消防箱玻璃碎了",
        "2026-12-02 10:30",
        "2026/12/02 10:30:00",
        "2026.12.02",
        "2026-12-01 - 2026-12-31",
        "2026-12-05 2026-12-31 10:00",
        "20261202103000",
        "T20261202000001",
        "T20261202000001,T20261202000002",
        "39.9087,116.3975",
        "39.908722,116.397499",
        "邮编 100080",
        "¥1,280.50",
        "总价 12,345,678.90 元",
        "13,800,000,000 元",
        "房号 1301、1302、1303",
        "版本 3.11.4",
    ],
)
def test_ids_dates_and_coordinates_are_left_alone(text: str) -> None:
    assert mask_text(text) == text


def test_a_mobile_keeps_its_ends_so_staff_can_tell_two_apart() -> None:
    assert mask_text("13912345678") == "139****5678"
    assert mask_text("139 - 1234 - 5678") == "139****5678"
    assert mask_text("010-62345678") == "010-****5678"
    assert mask_text("+86 10 6234 5678") == "+86 10 ****5678"


def test_an_id_card_shows_seven_of_its_eighteen_however_grouped() -> None:
    # Once `110105 194****1002X`: the gaps hid the number from the pattern, 14 shown.
    for number in ("11010519491231002X", "110105 19491231 002X", "110105-1949-1231-002X"):
        assert mask_text(number) == "110***********002X"


def test_no_separator_is_a_digit_so_every_pattern_matches_one_way() -> None:
    """What keeps masking linear: a separator run and a digit can never be mistaken for
    each other, so no pattern has two ways through the same text to backtrack between."""
    for ch in SEPARATORS:
        assert not ch.isdigit(), repr(ch)
        assert ch not in "XxＸｘ()（）+＋\r\n", repr(ch)


@pytest.mark.parametrize(
    "unit", ["1 ", "1 3 ", "139 - ", "1,", "(", "+", "0(", "(+86 ", "110105 19491231 ", "1"]
)
def test_100_kb_of_adversarial_text_is_masked_in_linear_time(unit: str) -> None:
    text = unit * (100_000 // len(unit))
    started = time.process_time()  # this process's CPU: other load on the machine is not counted
    mask_text(text)
    # Measured 0.02-0.16 s; a backtracking blow-up on 100 KB would take minutes.
    assert time.process_time() - started < 5


def _lines(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.strip().splitlines() if line.startswith("{")]


def test_structlog_lines_and_their_tracebacks_are_masked(
    capsys: pytest.CaptureFixture[str],
) -> None:
    log = configure_logging("test", fmt="json")
    try:
        raise RuntimeError("李女士 13912345678 固话 010-62345678")
    except RuntimeError:
        log.exception(
            "failed", note="+86 138 1234 5679", reason="id 110105 19491231 002X, 137 - 1234 - 5670"
        )
    out = capsys.readouterr().out
    assert "13912345678" not in out
    assert "19491231" not in out
    assert "1234 - 5670" not in out
    assert "62345678" not in out
    assert "1234 5679" not in out
    assert "李女士" not in out
    [line] = _lines(out)
    assert "139****5678" in str(line["exception"])


def test_stdlib_and_uvicorn_records_and_their_tracebacks_are_masked(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("test", fmt="json")
    try:
        raise ValueError("李女士 13912345678")
    except ValueError:
        # What uvicorn writes for a 500: its own logger, the exception attached.
        logging.getLogger("uvicorn.error").error("Exception in ASGI application\n", exc_info=True)
    logging.getLogger("uvicorn.access").warning(
        '%s - "%s %s HTTP/%s" %d', "127.0.0.1", "GET", "/x?phone=13712345678", "1.1", 500
    )
    logging.getLogger("some.library").warning("call %s", "（010）62345678")
    out = capsys.readouterr().out
    for clear in ("13912345678", "李女士", "13712345678", "62345678"):
        assert clear not in out
    lines = _lines(out)
    assert len(lines) == 3
    assert "ValueError" in str(lines[0]["exception"])
    assert "139****5678" in str(lines[0]["exception"])


def test_the_reporter_never_shows_in_a_repr_or_a_log_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    reporter = Reporter(name="王建国", phone="13700001111", email="w@example.org")
    assert "王建国" not in repr(reporter)
    assert "13700001111" not in repr(reporter)
    log = configure_logging("test", fmt="json")
    log.info("received", reporter=reporter.model_dump(), phone="13700001111", name_ok="x")
    out = capsys.readouterr().out
    assert "王建国" not in out
    assert "13700001111" not in out


def test_broadcast_events_carry_masked_text_and_the_object_stays_whole() -> None:
    command = SubmitReport.model_validate(
        {
            "category": "fire_box",
            "description": "消防箱坏了，联系王先生 +8613812345678 或 138 1234 5679",
            "location": {"address": "和园小区 A-160，电话010-62345678"},
            "channel": "snap_it",
        }
    )
    event = submitted().model_copy(
        update={"description": command.description, "location": command.location}
    )
    wire = parse_event(encode(event))
    assert "13812345678" not in wire.model_dump_json()
    assert "1234 5679" not in wire.model_dump_json()
    assert "62345678" not in wire.model_dump_json()
    assert "王先生" not in wire.model_dump_json()
    assert wire.event_id == event.event_id
    assert wire.ticket_id == event.ticket_id
    assert "13812345678" in event.description  # the caller's object is not changed


def test_notes_reasons_and_a_gateways_echo_are_masked() -> None:
    cause = submitted()
    declined = TicketDeclined.caused_by(
        cause,
        producer="intake",
        occurred_at=cause.occurred_at,
        unit_id="grid-heyuan",
        reason_code="other",
        note="已电话联系王先生 13700001111",
        bounces=1,
    )
    failed = DeliveryFailed.caused_by(
        cause,
        producer="notify",
        occurred_at=cause.occurred_at,
        recipient="r_abc",
        channel="sms",
        reason="rejected: HTTP 400: invalid mobile 13700001111",
        attempts=1,
    )
    for event in (declined, failed):
        assert "13700001111" not in mask_event(event).model_dump_json()
        assert "13700001111" not in encode(event).decode()
