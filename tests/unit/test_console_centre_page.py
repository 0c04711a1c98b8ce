"""The command centre's page as rendered (no browser): a danger in the manual queue is
the first thing on the page with whom to ring, its form defaults to the emergency
whistle, and a guess triage itself doubts is shown but never preselected."""

from datetime import UTC, datetime
from typing import Any, cast

from starlette.requests import Request

from chuishao.console.service import Console
from chuishao.console.web import templates
from chuishao.console.web.centre import queued_of

NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)


class Names:
    """The console's read models, as far as the page needs them."""

    def unit_name(self, unit_id: str | None) -> str:
        return {"grid-heyuan": "和园社区网格站", "weijian-yunxi": "云溪区卫生健康委员会"}.get(
            unit_id or "", unit_id or ""
        )

    def category_name(self, code: str | None) -> str:
        return {"emergency_hazard": "突发险情", "assistance": "困难求助"}.get(
            code or "", code or ""
        )

    def place_name(self, code: str | None) -> str:
        return {"qingshi": "青石街道"}.get(code or "", code or "")


def entry(ticket_id: str, **changes: Any) -> dict[str, Any]:
    return {
        "ticket_id": ticket_id,
        "queued_at": "2026-12-02T07:55:00Z",
        "reason": "triage unsure",
        "category": None,
        "suggested_category": "emergency_hazard",
        "confidence": 0.13,
        "suggestions": [
            {"category": "emergency_hazard", "confidence": 0.13, "units": ["grid-heyuan"]},
            {"category": "assistance", "confidence": 0.004, "units": []},
        ],
        "priority": "normal",
        "place": ["HY-01", "heyuan", "qingshi"],
        "declined_by": [],
        "description": "这边有个情况，有人晕倒了，一直没醒",
        "suggested_units": ["grid-heyuan"],
    } | changes


def render(queue: list[Any], dangers: list[Any]) -> str:
    request = Request({"type": "http", "method": "GET", "path": "/centre", "headers": []})
    context = {
        "request": request,
        "scope": "青石街道",
        "queue": queue,
        "arbitrate": [],
        "dangers": dangers,
        "extensions": [],
        "overdue": [],
        "units": [{"id": "grid-heyuan", "name": "和园社区网格站"}],
        "categories": [],
        "whistles": [("daily", "日常哨"), ("coordination", "协同哨"), ("emergency", "应急哨")],
        "map": "",
        "pinned": 0,
        "unit_name": Names().unit_name,
        "done": "",
        "done_ticket": "",
    }
    return templates.env.get_template("centre/centre.html").render(context)


def test_a_danger_comes_first_with_whom_to_ring() -> None:
    names = cast(Console, Names())
    ticket = {
        "call_now": ["120"],
        "call_message_zh": "如有人员生命危险，请立即拨打120",
        "street": "qingshi",
    }
    danger = queued_of(names, entry("T1", priority="emergency"), ticket, NOW)
    calm = queued_of(names, entry("T2"), {"street": "qingshi"}, NOW)
    assert danger.emergency
    assert danger.call_now == "如有人员生命危险，请立即拨打120"
    assert calm.call_now == ""
    page = render([danger, calm], [danger])
    notice = page.index('id="danger-T1"')
    assert notice < page.index('id="queue"')
    assert "请立即拨打120" in page[notice : page.index('id="queue"')]
    form = page[page.index('id="q-T1"') : page.index('id="q-T2"')]
    assert 'value="emergency" checked' in form  # 应急哨 by default for a danger
    calm_form = page[page.index('id="q-T2"') :]
    assert 'value="daily" checked' in calm_form


def test_a_doubtful_guess_is_shown_but_not_preselected() -> None:
    names = cast(Console, Names())
    doubtful = queued_of(names, entry("T3"), None, NOW)
    assert doubtful.suggested_units == []  # 13 %: no lead picked for the dispatcher
    assert [s["confidence"] for s in doubtful.suggestions] == ["13%", "<1%"]
    page = render([doubtful], [])
    assert "突发险情" in page
    assert "&lt;1%" in page
    assert " selected>" not in page[page.index('id="q-T3"') :]
    sure = queued_of(
        names,
        entry(
            "T4",
            suggestions=[
                {"category": "emergency_hazard", "confidence": 0.8, "units": ["grid-heyuan"]}
            ],
        ),
        None,
        NOW,
    )
    assert sure.suggested_units == ["grid-heyuan"]
    assert " selected>" in render([sure], [])
