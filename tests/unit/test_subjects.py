"""The subject catalogue: every pattern has a builder and a parser that read each other."""

import json
import typing
from collections.abc import Callable

import pytest
from pydantic import ValidationError

from chuishao.common import events, streams, subjects
from chuishao.router import manual


def test_each_builder_is_read_back_by_its_parser() -> None:
    pairs: list[tuple[Callable[[str, str], str], Callable[[str], object], tuple[str, str]]] = [
        (subjects.unit_command, subjects.parse_unit_command, ("cg-yunxi", "ack")),
        (subjects.manual_command, subjects.parse_manual_command, ("qingshi-command", "list")),
        (subjects.operator_command, subjects.parse_operator_command, ("op7", "rate")),
        (subjects.ticket_event, subjects.parse_ticket_event, ("dispatched", "T1")),
    ]
    for build, parse, parts in pairs:
        assert parse(build(*parts)) == parts, build
    assert subjects.parse_dead_letter(subjects.dead_letter("notify-deliveries")) == (
        "notify-deliveries"
    )
    ref = "r_" + "0a" * 10
    assert subjects.parse_points_exchanged(subjects.points_exchanged(ref)) == ref
    assert subjects.pattern_of(subjects.points_exchanged(ref)) == "points.exchanged.*"


@pytest.mark.parametrize(
    ("parse", "subject"),
    [
        # A manual command has five tokens: the unit commands' parser must refuse it.
        (subjects.parse_unit_command, "cmd.unit.qingshi-command.manual.list"),
        (subjects.parse_manual_command, "cmd.unit.qingshi-command.list"),
        (subjects.parse_operator_command, "cmd.unit.op7.rate"),
        (subjects.parse_ticket_event, "dept.cg.dispatched.T1"),
        (subjects.parse_unit_command, "cmd.unit..ack"),
    ],
)
def test_a_parser_refuses_another_shape(
    parse: typing.Callable[[str], object], subject: str
) -> None:
    with pytest.raises(subjects.NotThisSubject):
        parse(subject)


def test_consumer_filters_come_from_the_event_classes() -> None:
    assert streams.ROUTER.filter_subjects[0] == "ticket.submitted.*"
    assert streams.SLA.event_kinds == {
        kind for kind, _ in map(subjects.parse_ticket_event, streams.SLA.filter_subjects)
    }
    known = {event.kind for event in events.EVENT_TYPES}
    for spec in streams.CONSUMERS.values():
        assert spec.event_kinds <= known, spec.name
    assert streams.NOTIFY_DELIVERIES.event_kinds == frozenset()


def test_the_event_types_are_the_union_members() -> None:
    (union, *_) = typing.get_args(events.AnyEvent)
    assert typing.get_args(union) == events.EVENT_TYPES
    assert len(set(events.EVENT_TYPES)) == len(events.EVENT_TYPES) >= 30


def test_a_refused_manual_command_has_the_one_error_shape() -> None:
    """It used to carry pydantic's errors as a Python repr under "detail"."""
    with pytest.raises(ValidationError) as invalid:
        manual.AssignTicket.model_validate_json(b'{"lead": "x"}')
    reply = json.loads(json.dumps(manual.refused(invalid.value)))
    assert reply["ok"] is False
    assert set(reply["error"]) == {"code", "message_zh", "message_en", "field"}
    assert reply["error"]["code"] == "invalid"
    assert reply["error"]["field"] == "ticket_id"
    assert "[{" not in reply["error"]["message_en"]
    unknown = manual.unknown_verb("drop")["error"]
    assert unknown["code"] == "unknown_verb"
    assert "drop" in unknown["message_zh"]
    rejected = manual.refused(manual.AssignmentRejected("not_found", "没有这张工单", "no T1"))
    assert rejected["error"]["message_zh"] == "没有这张工单"


def test_the_common_library_names_every_public_module() -> None:
    import pkgutil

    import chuishao.common

    modules = {m.name for m in pkgutil.iter_modules(chuishao.common.__path__)}
    public = modules - {"compat", "transient"}
    assert set(chuishao.common.__all__) == public, "name it in chuishao/common/__init__.py"


@pytest.mark.parametrize(
    ("subject", "pattern"),
    [
        ("ticket.dispatched.T123", "ticket.dispatched.*"),
        ("dept.grid-a.dispatched.T1", "dept.*.dispatched.*"),
        ("cmd.unit.cg-yunxi.acknowledge", "cmd.unit.*.acknowledge"),
        ("cmd.unit.qingshi-command.manual.list", "cmd.unit.*.manual.list"),
        ("notify.job.webhook.T1", "notify.job.webhook.*"),
        ("cmd.submit", "cmd.submit"),
        ("dlq.router", "dlq.router"),
    ],
)
def test_a_metric_label_keeps_the_pattern_and_drops_the_ids(subject: str, pattern: str) -> None:
    assert subjects.pattern_of(subject) == pattern
