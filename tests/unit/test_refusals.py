"""The lifecycle's refusals say in both languages what happened, from one table, and never
name an internal class, command or status code."""

import string
from operator import attrgetter

import pytest

from chuishao.common.commands import COMMAND_TYPES
from chuishao.intake.lifecycle import (
    ALLOWED,
    CommandRejected,
    IllegalTransition,
    NotYours,
    Status,
    VersionConflict,
)
from chuishao.intake.refusals import ACTIONS, REFUSALS, STATES

INTERNAL = {t.__name__ for t in COMMAND_TYPES}


def test_every_status_and_every_command_has_words() -> None:
    assert set(STATES) == {str(s) for s in Status}
    assert {c.__name__ for c in ALLOWED} <= set(ACTIONS)


@pytest.mark.parametrize("command", sorted(ALLOWED, key=attrgetter("__name__")))
def test_an_illegal_transition_is_said_without_internal_names(command: type) -> None:
    for status in set(Status) - ALLOWED[command]:
        refusal = IllegalTransition("not_in_state", command=command.__name__, state=str(status))
        assert refusal.code == "illegal_transition"
        assert not any(name in refusal.message_en for name in INTERNAL), refusal.message_en
        assert "_" not in refusal.message_en, refusal.message_en  # no status codes
        assert refusal.message_zh.startswith("工单")
        assert str(refusal) == refusal.message_en


def test_rating_a_closed_ticket() -> None:
    refusal = IllegalTransition("not_in_state", command="RateTicket", state="closed")
    assert (refusal.message_zh, refusal.message_en) == (
        "工单已关闭，不能再评价",
        "This ticket is closed and can no longer be rated",
    )
    assert refusal.detail().model_dump() == {
        "code": "illegal_transition",
        "message_zh": "工单已关闭，不能再评价",
        "message_en": "This ticket is closed and can no longer be rated",
        "field": None,
    }


@pytest.mark.parametrize("reason", sorted(REFUSALS))
def test_every_row_fills_in_both_languages(reason: str) -> None:
    zh, en = REFUSALS[reason]
    names = {f for _, f, _, _ in string.Formatter().parse(zh + en) if f}
    params = {name: "X" for name in names if not name.endswith(("_zh", "_en"))}
    params |= {"command": "CloseTicket", "state": "resolved"} if names & {
        "action_zh", "action_en", "state_zh", "state_en"
    } else {}  # fmt: skip
    refusal = CommandRejected(reason, **params)
    assert refusal.message_zh
    assert refusal.message_en
    assert "{" not in refusal.message_zh + refusal.message_en
    assert not any(name in refusal.message_en for name in INTERNAL)


def test_a_supervisors_decision_names_the_action_not_the_command() -> None:
    refusal = NotYours("needs_supervisor", command="RecategoriseTicket")
    assert refusal.message_zh == "重新分类需要街道或区级指挥中心的账号"
    assert "RecategoriseTicket" not in refusal.message_en


def test_a_stale_version_names_its_field() -> None:
    refusal = VersionConflict(
        "version_conflict", field="expected_version", version="7", expected="6"
    )
    assert refusal.detail().field == "expected_version"
    assert "7" in refusal.message_zh
    assert "reload" in refusal.message_en


def test_free_text_still_gets_a_chinese_message() -> None:
    refusal = IllegalTransition("the street has not decided yet")
    assert refusal.message_en == "the street has not decided yet"
    assert refusal.message_zh == "工单当前的状态不允许这项操作"
