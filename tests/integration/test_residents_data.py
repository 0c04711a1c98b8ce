"""Residents' data through intake on real servers: numbers typed into free text are
masked in every broadcast event and kept whole only in the record; the reporter's name
and phone are erased after the retention period, keeping the reporter reference."""

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import httpx
from nats.js import JetStreamContext

from chuishao.common.clock import ManualClock
from chuishao.common.events import Event, TicketClosed
from chuishao.embedded import free_port
from chuishao.intake.projection import apply
from chuishao.intake.records import TicketRecord
from chuishao.intake.retention import ERASURE_TYPE, Retention, RetentionPolicy
from chuishao.intake.store import RecordStore
from support.intake import OPERATOR, Harness, auth, resident_link_token

GRID = "grid-heyuan"
TYPED = "消防箱坏了，联系王先生 +8613812345678 或 138 1234 5679，座机(010)62345678"
CLEAR = ("13812345678", "1234 5679", "62345678", "王先生")


def _clear_in(data: bytes) -> list[str]:
    text = data.decode()
    return [number for number in CLEAR if number in text]


async def test_free_text_is_masked_in_every_broadcast_event_and_whole_in_the_record(
    intake: Harness, js: JetStreamContext
) -> None:
    ticket_id = await intake.submit(
        description=TYPED, location={"address": "和园小区 A-160，电话 138-1234-5678"}
    )
    await intake.dispatch(ticket_id, GRID)
    for verb, body in (
        ("acknowledge", None),
        ("notes", {"note": f"已电话联系 {TYPED}"}),
        ("resolve", {"note": f"已处理，回访 {TYPED}"}),
    ):
        response = await intake.command(ticket_id, verb, auth(GRID), body)
        assert response.status_code == 200, response.text
    response = await intake.command(
        ticket_id,
        "rating",
        None,
        {"rating": "unsatisfied", "comment": f"没修好，打我电话 {TYPED}"},
        token=resident_link_token(ticket_id),
    )
    assert response.status_code == 200, response.text

    info = await js.stream_info("TICKETS")
    seen = 0
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        message = await js.get_msg("TICKETS", seq)
        if message.subject and message.subject.endswith(ticket_id):
            seen += 1
            assert _clear_in(message.data or b"") == [], message.subject
    assert seen >= 7  # submitted … rated, reopened
    record = await intake.ticket(ticket_id)
    assert record["description"] == TYPED  # the record alone keeps what was typed


async def _closed(intake: Harness, ticket_id: str, days_ago: float) -> TicketRecord:
    """The ticket as if it had been closed `days_ago` (what a rating or a supervisor
    does; the close time is what retention counts from)."""
    store: RecordStore = intake.app.state.intake.store

    def close(record: TicketRecord) -> tuple[TicketRecord, list[Event]]:
        event = TicketClosed.about(
            ticket_id=record.ticket_id,
            correlation_id=record.correlation_id,
            producer="intake",
            occurred_at=record.submitted_at - timedelta(days=days_ago),
            reason="withdrawn",
        )
        return apply(record, event), []

    result = await store.change(ticket_id, close)
    assert result is not None
    return result[0]


async def test_contacts_are_erased_after_retention_keeping_the_reference(
    intake: Harness,
) -> None:
    service = intake.app.state.intake
    store = service.store
    old = await intake.submit()
    recent = await intake.submit()
    still_open = await intake.submit()
    await _closed(intake, old, days_ago=0)
    await _closed(intake, recent, days_ago=-20)  # closed 20 days after the first
    before = await store.get(old)
    assert before is not None
    assert before.reporter is not None
    clock = ManualClock(before.submitted_at + timedelta(days=181))
    retention = Retention(
        store,
        clock,
        RetentionPolicy(rating_window=timedelta(days=7), retention=timedelta(days=180)),
        erasers=[],
    )
    if service.contacts is not None:
        retention.add_eraser(service.contacts.forget_reporter)

    assert await retention.sweep() == 1
    after = await store.get(old)
    assert after is not None
    assert after.reporter is None
    assert after.reporter_ref == before.reporter_ref is not None
    assert after.history[-1].type == ERASURE_TYPE
    assert "13912345678" not in after.model_dump_json()
    assert "李女士" not in after.model_dump_json()
    if service.contacts is not None:
        kept = await service.contacts.first_record(old)
        assert kept is not None
        assert kept.reporter is None
    for ticket_id in (recent, still_open):
        untouched = await store.get(ticket_id)
        assert untouched is not None
        assert untouched.reporter is not None
    response = await intake.http.get(f"/api/v1/tickets/{old}", headers=OPERATOR)
    assert response.status_code == 200
    assert "13912345678" not in response.text

    assert await retention.sweep() == 0  # done once; nothing else is due yet
    clock.advance(timedelta(days=21))
    assert await retention.sweep() == 1  # the one closed later, in its turn
    assert (await store.get(still_open)).reporter is not None


async def test_intake_runs_the_sweep_with_the_documented_defaults(intake: Harness) -> None:
    retention = intake.app.state.retention
    assert retention.policy == RetentionPolicy(
        rating_window=timedelta(days=7), retention=timedelta(days=180)
    )
    assert retention.clock is intake.app.state.intake.clock


SERVER = """
import sys
import uvicorn
from fastapi import FastAPI
from chuishao.common.logging import configure_logging

configure_logging("test", fmt="json")
app = FastAPI()


@app.get("/boom")
async def boom() -> None:
    raise RuntimeError("李女士 13912345678 010-62345678")


# As chuishao.intake.__main__ runs it: uvicorn's loggers go to the masking root handler.
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=True,
            log_level="info", log_config=None)
"""


def test_a_500s_traceback_from_uvicorn_prints_masked(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    status = httpx.get(f"http://127.0.0.1:{port}/boom", timeout=2).status_code
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, log.read_text()
                    time.sleep(0.05)
            assert status == 500
            while "Exception in ASGI application" not in log.read_text():
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.05)
        finally:
            server.terminate()
            server.wait(timeout=10)
    text = log.read_text()
    assert "RuntimeError" in text
    assert "139****5678" in text
    for clear in ("13912345678", "62345678", "李女士"):
        assert clear not in text
