"""Plays the timetable against the running stack, one stack hour per step."""

import asyncio
from datetime import UTC, datetime
from typing import Any, Protocol

from chuishao.demo.stack import DemoError, Stack, StackClock, Ticket
from chuishao.demo.stories import LAST_HOUR, PHOTO, REPORTS, Actions, Report, timetable

HOUR = 3600.0


class Screen(Protocol):
    def say(self, hour: int, text: str) -> None: ...
    def show(self, hour: int, board: dict[str, Any]) -> None: ...


def _names(ticket: Ticket, *, owing: str | None = None) -> list[str]:
    return [
        a["unit_id"]
        for a in ticket["assignments"]
        if a["active"] and (owing is None or a[owing] is None)
    ]


class Demo(Actions):
    def __init__(self, stack: Stack, clock: StackClock, screen: Screen, pace: float) -> None:
        self.stack = stack
        self.clock = clock
        self.screen = screen
        self.pace = pace  # real seconds per stack hour
        self.hour = 0
        self.tickets: dict[str, str] = {}  # story key → ticket id
        self.hotspots_seen = 0

    def say(self, text: str) -> None:
        self.screen.say(self.hour, text)

    async def play(self) -> dict[str, Any]:
        await self.stack.wait_until_up()
        started = await self.clock.offset()
        self.say(f"stack clock offset {started / HOUR:+.1f} h; the demo moves it {LAST_HOUR} h on")
        for report in REPORTS:
            await self.submit(report)
        steps = timetable()
        board: dict[str, Any] = {}
        for hour in range(LAST_HOUR + 1):
            if hour > 0:
                await self.clock.advance(HOUR)
                self.hour = hour
                if hour == 1:
                    await self._check_shared_clock(started + HOUR)
            for step in steps.get(hour, []):
                await step(self)
            board = await self.stack.board()
            self._tell_hotspots(board)
            self.screen.show(hour, board)
            await asyncio.sleep(self.pace)
        self.say("done: the rates above are the command centre's, live on its page")
        moved = await self.clock.offset()
        self.say(
            f"the stack clock stays {moved / HOUR:+.1f} h off real time, so new tickets take "
            "that day's ids; `make timetravel BY=0` puts it back"
        )
        return board

    # --- Actions

    async def submit(self, report: Report) -> None:
        token = None
        if report.on_page:
            ticket_id, token = await self.stack.file_on_resident_page(report.body)
        else:
            ticket_id = await self.stack.submit(report.body)
        ticket = await self.stack.ticket(ticket_id)
        if ticket["status"] == "linked":
            await self._split_out(report, ticket_id, ticket["linked_to"])
        self.tickets[report.key] = ticket_id
        ticket = await self.stack.until(ticket_id, lambda t: bool(_names(t)), "dispatch")
        ticket = await self._settled(ticket_id, ticket)
        whistles = {a["whistle"] for a in ticket["assignments"]} - {"none", "daily"}
        summoned = ", ".join(f"{a['unit_name']}" for a in ticket["assignments"])
        whistle = f" [{'/'.join(sorted(whistles))} whistle]" if whistles else ""
        self.say(f"{report.story} → {ticket_id} 派单 {summoned}{whistle}")
        if token is not None:  # the link of the resident's SMS opens the ticket's page
            status = await self.stack.resident_view(ticket_id, token)
            if status != 200:
                raise DemoError(f"{ticket_id}: the resident's page answered {status}")
            self.say(f"{ticket_id} filed on the resident page /r; its SMS link opens it")

    async def report_for_duty(self, key: str) -> None:
        ticket_id = self.tickets[key]
        ticket = await self.stack.ticket(ticket_id)
        owing = _names(ticket, owing="acknowledged_at")
        for unit_id in owing:
            await self.stack.act(ticket_id, unit_id, "acknowledge")
        self.say(f"{ticket_id} 报到 reported for duty: {', '.join(owing) or '—'}")

    async def note(self, key: str, text: str) -> None:
        ticket_id = self.tickets[key]
        lead = _names(await self.stack.ticket(ticket_id))[0]
        await self.stack.act(ticket_id, lead, "notes", {"note": text})
        self.say(f"{ticket_id} {lead}: {text}")

    async def resolve(self, key: str, note: str) -> None:
        ticket_id = self.tickets[key]
        ticket = await self.stack.until(ticket_id, lambda t: t["status"] == "in_progress", "work")
        evidence = [PHOTO.format(key=key)]
        for unit_id in _names(ticket, owing="signed_off_at"):
            await self.stack.act(
                ticket_id, unit_id, "resolve", {"note": note, "evidence_urls": evidence}
            )
        await self.stack.until(ticket_id, lambda t: t["status"] == "resolved", "resolution")
        self.say(f"{ticket_id} 办结 resolved with photos: {note}")

    async def rate(self, key: str, rating: str, comment: str = "") -> None:
        ticket_id = self.tickets[key]
        await self.stack.rate(ticket_id, rating, comment)
        label = {"satisfied": "满意", "basically_satisfied": "基本满意", "unsatisfied": "不满意"}
        self.say(f"{ticket_id} resident rates {label[rating]} {comment}".rstrip())

    async def callback(self, key: str, outcome: str) -> None:
        ticket_id = self.tickets[key]
        await self.stack.callback(ticket_id, outcome)
        label = {"no_answer": "未接通", "unreachable": "无法联系"}
        self.say(f"{ticket_id} 回访 callback by the 12345 operator: {label[outcome]}")

    async def await_reopened(self, key: str) -> None:
        ticket_id = self.tickets[key]
        # The unit may report for duty before the router's dispatch that answers the
        # reopening lands: that report stands (docs/intake.md), so no need to wait for it.
        ticket = await self.stack.until(
            ticket_id, lambda t: bool(_names(t, owing="acknowledged_at")), "the reopening"
        )
        self.say(f"{ticket_id} reopened: back to {', '.join(_names(ticket))} with the complaint")

    async def await_escalated(self, key: str) -> None:
        ticket_id = self.tickets[key]
        ticket = await self.stack.until(
            ticket_id,
            lambda t: any(a["role"] == "supervisor" for a in t["assignments"]),
            "the escalation at 48 h",
        )
        centre = next(a for a in ticket["assignments"] if a["role"] == "supervisor")
        self.say(
            f"{ticket_id} 48 h and not handled: 督办 escalated to the street — "
            f"{centre['unit_name']} summoned"
        )

    # --- checks

    async def _split_out(self, report: Report, ticket_id: str, earlier: str) -> None:
        """The stack already holds an open ticket for the same problem (the README's
        report, an unfinished earlier run), so intake joined this report to it. The story
        needs a ticket of its own: a unit of the earlier ticket splits the report out
        (拆分), as it would a wrongly joined one, and it is routed on its own."""
        lead = await self.stack.until(earlier, lambda t: bool(_names(t)), "the earlier dispatch")
        await self.stack.act(ticket_id, _names(lead)[0], "split")
        await self.stack.until(ticket_id, lambda t: t["status"] != "linked", "the split")
        self.say(
            f"{report.story}: joined to the stack's earlier ticket {earlier}; "
            "split out to play the story on its own ticket"
        )

    async def _settled(self, ticket_id: str, ticket: Ticket) -> Ticket:
        """A whistle summons several units, one dispatch each: wait until no more come."""
        stable = 0
        while stable < 4:
            await asyncio.sleep(0.05)
            again = await self.stack.ticket(ticket_id)
            stable = stable + 1 if len(again["assignments"]) == len(ticket["assignments"]) else 0
            ticket = again
        return ticket

    def _tell_hotspots(self, board: dict[str, Any]) -> None:
        for hotspot in board["hotspots"][: max(len(board["hotspots"]) - self.hotspots_seen, 0)]:
            self.say(
                f"预警 hotspot: {hotspot['count']} × {hotspot['category']} in grid "
                f"{hotspot['grid']} within {hotspot['window_seconds'] // 3600} h → street "
                f"{hotspot['street']}"
            )
        self.hotspots_seen = max(self.hotspots_seen, len(board["hotspots"]))

    async def _check_shared_clock(self, offset: float) -> None:
        """The stack must run on the shared clock, or moving it changes nothing."""
        for _ in range(30):
            as_of = datetime.fromisoformat((await self.stack.board())["as_of"])
            if abs((as_of - datetime.now(UTC)).total_seconds() - offset) < 120:
                return
            await asyncio.sleep(0.1)
        raise DemoError(
            "the stack does not follow the shared clock: run it with CHUISHAO_CLOCK=shared "
            "(`make run` does)"
        )
