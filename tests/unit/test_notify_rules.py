"""Notify's pure rules: signatures, back-off, quiet hours, who hears what, the words."""

import random
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from chuishao.common.clock import ManualClock
from chuishao.common.domain import Channel, ClockKind, Level, Priority, Role
from chuishao.common.events import SlaWarning, TicketDispatched, TicketEscalated, TicketResolved
from chuishao.notify.audience import Audience
from chuishao.notify.messages import Messages, duration
from chuishao.notify.outcomes import from_response
from chuishao.notify.planning import notices_for, priority_of
from chuishao.notify.protections import QuietHours
from chuishao.notify.retry import backoff_seconds
from chuishao.notify.settings import NotifySettings
from chuishao.notify.signing import SIGNATURE_HEADER, signed_headers, verify
from support.factories import dispatched, submitted

BEIJING = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)


# --- signatures


def test_a_signature_verifies_only_with_the_secret_the_body_and_a_fresh_timestamp() -> None:
    body = '{"text": "请办理"}'.encode()
    headers = signed_headers("s3cret", body, NOW)
    assert verify("s3cret", headers, body, NOW)
    assert verify("s3cret", headers, body, NOW + timedelta(seconds=299))
    assert not verify("s3cret", headers, body, NOW + timedelta(seconds=301))  # replayed later
    assert not verify("other", headers, body, NOW)
    assert not verify("s3cret", headers, body.replace("请".encode(), "别".encode()), NOW)
    assert not verify("s3cret", {}, body, NOW)


def test_during_a_secret_rotation_either_signature_is_accepted() -> None:
    body = b"{}"
    old = signed_headers("old", body, NOW)
    new = signed_headers("new", body, NOW)
    both = old | {SIGNATURE_HEADER: f"{old[SIGNATURE_HEADER]},{new[SIGNATURE_HEADER]}"}
    assert verify("old", both, body, NOW)
    assert verify("new", both, body, NOW)


def test_the_signed_text_is_timestamp_dot_body() -> None:
    import hashlib
    import hmac

    body = b'{"a":1}'
    headers = signed_headers("k", body, NOW)
    expected = hmac.new(b"k", f"{int(NOW.timestamp())}.".encode() + body, hashlib.sha256)
    assert headers[SIGNATURE_HEADER] == "v1=" + expected.hexdigest()


# --- retries


def test_back_off_doubles_with_jitter_up_to_the_cap() -> None:
    rng = random.Random(1)
    for attempt, ceiling in [(1, 2.0), (2, 4.0), (3, 8.0), (9, 300.0), (20, 300.0)]:
        delays = [backoff_seconds(attempt, 2.0, 300.0, rng) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert max(delays) - min(delays) > ceiling / 4  # jittered, not a fixed step


def test_retry_after_is_honoured_within_the_cap() -> None:
    rng = random.Random(1)
    assert backoff_seconds(1, 2.0, 300.0, rng, retry_after=60) == 60
    assert backoff_seconds(1, 2.0, 300.0, rng, retry_after=9999) == 300


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (200, "delivered"),
        (204, "delivered"),
        (500, "retry"),
        (503, "retry"),
        (429, "retry"),
        (408, "retry"),
        (400, "rejected"),
        (401, "rejected"),
        (404, "rejected"),
        (410, "rejected"),
        (301, "rejected"),
    ],
)
def test_5xx_and_timeouts_are_retried_other_4xx_never(status: int, kind: str) -> None:
    assert from_response(httpx.Response(status)).kind == kind


def test_the_attempt_budget_cannot_exceed_the_consumers_max_deliver() -> None:
    with pytest.raises(ValueError, match="delivery_attempts"):
        NotifySettings(delivery_attempts=11)


# --- quiet hours

QUIET = QuietHours(time(22), time(7), BEIJING)


@pytest.mark.parametrize(
    ("local", "until"),
    [
        (datetime(2026, 1, 5, 23, 30), datetime(2026, 1, 6, 7, 0)),
        (datetime(2026, 1, 5, 22, 0), datetime(2026, 1, 6, 7, 0)),
        (datetime(2026, 1, 6, 3, 0), datetime(2026, 1, 6, 7, 0)),
        (datetime(2026, 1, 6, 6, 59), datetime(2026, 1, 6, 7, 0)),
        (datetime(2026, 1, 6, 7, 0), None),
        (datetime(2026, 1, 6, 12, 0), None),
        (datetime(2026, 1, 6, 21, 59), None),
    ],
)
def test_quiet_hours_run_from_ten_at_night_to_seven_in_the_morning_beijing_time(
    local: datetime, until: datetime | None
) -> None:
    now = local.replace(tzinfo=BEIJING).astimezone(UTC)
    expected = until.replace(tzinfo=BEIJING) if until else None
    assert QUIET.holds_until(now) == expected


# --- who hears what


def escalation(dispatch: TicketDispatched, **fields: Any) -> TicketEscalated:
    """sla's escalation of the dispatch at NOW: the resolution clock ran out at the
    community, the street is summoned (`fields`: how late, who)."""
    return TicketEscalated.caused_by(
        dispatch,
        producer="sla",
        occurred_at=NOW,
        clock=ClockKind.RESOLUTION,
        from_level=Level.COMMUNITY,
        to_level=Level.STREET,
        **fields,
    )


def test_who_hears_about_which_event() -> None:
    cause = submitted()
    dispatch = dispatched(cause)
    supervisor = dispatch.model_copy(update={"role": Role.SUPERVISOR, "level": Level.STREET})
    facts = Audience(
        Priority.URGENT,
        {"grid-heyuan": (Role.LEAD, Level.COMMUNITY), "wuye": (Role.CO, Level.COMMUNITY)},
    )
    warning = SlaWarning.caused_by(
        dispatch,
        producer="sla",
        occurred_at=NOW,
        clock=ClockKind.RESOLUTION,
        level=Level.COMMUNITY,
        deadline=NOW,
        remaining_seconds=60,
    )
    escalated = escalation(
        dispatch, overdue_seconds=0, units_summoned=("street-centre", "district-cg")
    )
    resolved = TicketResolved.caused_by(
        cause, producer="intake", occurred_at=NOW, units=("grid-heyuan",), note="done"
    )

    def said(event: object) -> list[tuple[str, str, str]]:
        return [(n.audience, n.recipient, n.template) for n in notices_for(event, facts)]  # type: ignore[arg-type]

    assert said(cause) == [("resident", cause.ticket_id, "receipt")]
    assert said(dispatch) == [("unit", "grid-heyuan", "dispatch")]
    assert said(supervisor) == [("unit", "grid-heyuan", "supervision")]
    assert said(warning) == [("unit", "grid-heyuan", "urge")]  # the lead, not the co-handler
    assert said(escalated) == [
        ("unit", "street-centre", "escalation"),
        ("unit", "district-cg", "escalation"),
    ]
    assert said(resolved) == [("resident", cause.ticket_id, "resolved")]
    assert said(cause.model_copy(update={"channel": Channel.BATCH_IMPORT})) == []
    assert priority_of(resolved, facts) == Priority.URGENT
    assert priority_of(cause, facts) == Priority.NORMAL


# --- the words

MESSAGES = Messages(BEIJING, "https://12345.example.gov.cn/", "link-secret")


def test_messages_are_chinese_and_carry_the_ticket_number() -> None:
    cause = submitted(ManualClock(NOW))
    dispatch = dispatched(cause)
    receipt = MESSAGES.render("receipt", cause)
    assert receipt.startswith("【受理回执】您反映的问题已受理，工单编号：T20260105000001。")
    assert "https://12345.example.gov.cn/T20260105000001?t=" in receipt
    assert MESSAGES.render("dispatch", dispatch, "和园社区网格站").startswith(
        "【日常哨】和园社区网格站：请作为主办单位办理工单T20260105000001。问题：消防箱玻璃碎了"
    )
    escalated = escalation(dispatch, overdue_seconds=3 * 3600 + 60)
    assert "超时3小时1分钟，已由社区升级至街道督办" in MESSAGES.render(
        "escalation", escalated, "街道指挥中心"
    )


def test_durations_read_naturally() -> None:
    assert [duration(s) for s in (59, 600, 3600, 5400, 50 * 3600, 72 * 3600)] == [
        "0分钟",
        "10分钟",
        "1小时",
        "1小时30分钟",
        "2天2小时",
        "3天",
    ]


def test_the_verification_recipe_in_the_docs_accepts_our_signatures() -> None:
    from pathlib import Path

    doc = (Path(__file__).parents[2] / "docs" / "notify.md").read_text()
    recipe = doc.split("Python:\n\n```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, object] = {}
    exec(recipe, namespace)  # noqa: S102 - our own documentation
    documented_verify = namespace["verify"]
    body = '{"text": "【催办】"}'.encode()
    headers = signed_headers("s3cret", body, datetime.now(UTC))
    assert documented_verify("s3cret", headers, body)  # type: ignore[operator]
    assert not documented_verify("other", headers, body)  # type: ignore[operator]
    stale = signed_headers("s3cret", body, datetime.now(UTC) - timedelta(minutes=10))
    assert not documented_verify("s3cret", stale, body)  # type: ignore[operator]


def test_linked_reporters_hear_that_the_ticket_was_resolved() -> None:
    from chuishao.common.events import TicketResolved
    from chuishao.notify.audience import Audience
    from chuishao.notify.planning import notices_for

    resolved = TicketResolved.about(
        ticket_id="T1",
        correlation_id="c",
        producer="intake",
        occurred_at=datetime(2026, 1, 5, tzinfo=UTC),
        units=("grid-heyuan",),
        note="修好了",
    )
    notices = notices_for(resolved, Audience(linked=("T2", "T3")))
    assert [(n.recipient, n.template) for n in notices] == [
        ("T1", "resolved"),
        ("T2", "resolved"),
        ("T3", "resolved"),
    ]
