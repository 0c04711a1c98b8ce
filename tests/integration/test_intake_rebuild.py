"""A 201 means durable even when Redis forgets: a redis-server restarted from an older
copy of its data (what `appendfsync everysec` or a restored snapshot does) loses no
acknowledged ticket, no contact, and makes no ticket id be handed out twice."""

import asyncio
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from nats.js import JetStreamContext
from redis.asyncio import Redis

from chuishao.common import stream_reader
from chuishao.intake import rebuild
from chuishao.intake.records import PACKING
from chuishao.intake.settings import IntakeSettings
from chuishao.intake.ticket_ids import TicketIds
from support.intake import Harness, auth, running_intake
from support.servers import RollbackRedis, Servers


@dataclass
class OwnIntake:
    """Intake on the test's own Redis (which it can roll back), its data in `data_dir`."""

    servers: Servers
    js: JetStreamContext
    redis: RollbackRedis
    data_dir: Path

    def start(self, **settings: Any) -> Any:
        return running_intake(
            self.servers.nats_url, self.redis.url, self.js, data_dir=self.data_dir, **settings
        )

    def settings(self) -> IntakeSettings:
        """What the rebuild command is run with."""
        return IntakeSettings(
            nats_url=self.servers.nats_url, redis_url=self.redis.url, data_dir=self.data_dir
        )


@pytest.fixture
def own(
    servers: Servers, js: JetStreamContext, clean: None, own_redis: RollbackRedis, tmp_path: Path
) -> OwnIntake:
    return OwnIntake(servers, js, own_redis, tmp_path)


async def submitted_ids(js: JetStreamContext) -> Counter[str]:
    """How many TicketSubmitted the stream holds per ticket id."""
    until = await stream_reader.last_sequence(js, "TICKETS")
    counts: Counter[str] = Counter()
    async for message in stream_reader.messages(js, "TICKETS", 0, until, ["ticket.submitted.*"]):
        counts[message.subject.rsplit(".", 1)[1]] += 1
    return counts


async def each_submitted_once(js: JetStreamContext, ticket_ids: list[str]) -> None:
    """TICKETS holds one TicketSubmitted for each of `ticket_ids`, and no other."""
    counts = await submitted_ids(js)
    assert set(counts) == set(ticket_ids)
    assert set(counts.values()) == {1}


def numbered(index: int) -> dict[str, Any]:
    return {
        "category": "fire_box",
        "description": f"第{index}号 消防箱玻璃碎了",
        "location": {"address": "和园小区 A-160", "grid_code": "HY-01"},
        "channel": "snap_it",
        "reporter": {"name": f"王{index}", "phone": f"1390000{index:04d}"},
    }


async def report(intake: Harness, index: int) -> str:
    """Filed with an Idempotency-Key, as a careful client does."""
    response = await intake.http.post(
        "/api/v1/reports", json=numbered(index), headers={"Idempotency-Key": f"report-{index}"}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["ticket_id"])


async def stored(intake: Harness, ticket_id: str) -> Any:
    return await intake.app.state.intake.store.get(ticket_id)


@pytest.fixture
async def rolled_back(own: OwnIntake) -> tuple[list[str], list[str]]:
    """Two tickets Redis keeps (the second dispatched and acknowledged after the snapshot:
    its record comes back behind), then five acknowledged (three dispatched, one of them
    acknowledged by its unit) that a rollback makes Redis forget."""
    async with own.start() as first:
        kept = [await report(first, i) for i in range(2)]
    own.redis.snapshot()
    async with own.start() as second:
        lost = [await report(second, i) for i in range(2, 7)]
        for ticket_id in lost[:3]:
            await second.dispatch(ticket_id, "grid-heyuan")
        acknowledged = await second.command(lost[0], "acknowledge", auth("grid-heyuan"))
        assert acknowledged.status_code == 200, acknowledged.text
        await second.dispatch(kept[1], "grid-heyuan")
        acknowledged = await second.command(kept[1], "acknowledge", auth("grid-heyuan"))
        assert acknowledged.status_code == 200, acknowledged.text
    own.redis.roll_back()
    probe = Redis.from_url(own.redis.url)
    try:
        assert await probe.exists(f"ticket:{kept[0]}")
        assert not await probe.exists(f"ticket:{lost[0]}")  # the rollback really forgot
    finally:
        await probe.aclose()
    return kept, lost


async def test_the_start_up_check_brings_back_every_acknowledged_ticket_and_reuses_no_id(
    own: OwnIntake,
    rolled_back: tuple[list[str], list[str]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    kept, lost = rolled_back
    settings = own.settings()
    # The command sees what Redis lacks, and says so with a failing exit status.
    assert await rebuild.run(settings, write=False) == 1
    said = capsys.readouterr().out
    assert " ".join(lost) in said
    assert f"落后 behind: 1: {kept[1]}" in said

    async with own.start() as third:
        for index, ticket_id in enumerate(lost, start=2):
            record = await stored(third, ticket_id)
            assert record is not None, ticket_id
            assert record.description == f"第{index}号 消防箱玻璃碎了"
            assert record.reporter is not None
            assert (record.reporter.name, record.reporter.phone) == (
                f"王{index}",
                f"1390000{index:04d}",
            )
        first_lost = await third.ticket(lost[0])
        assert first_lost["status"] == "in_progress"  # dispatched, then acknowledged
        assert [a["unit_id"] for a in first_lost["assignments"]] == ["grid-heyuan"]
        # The record Redis kept from before its dispatch took the events it lacked.
        caught_up = await third.ticket(kept[1])
        assert caught_up["status"] == "in_progress"
        assert [a["unit_id"] for a in caught_up["assignments"]] == ["grid-heyuan"]

        # A client retrying a report whose answer it never saw gets the same ticket even
        # though Redis forgot the key: it came back with the record.
        retry = await third.http.post(
            "/api/v1/reports", json=numbered(4), headers={"Idempotency-Key": "report-4"}
        )
        assert retry.json()["ticket_id"] == lost[2], retry.text

        fresh = [await report(third, i) for i in range(7, 10)]
        assert not set(fresh) & set(kept + lost)
        assert min(fresh) > max(lost)

        # A unit acting on an id it was sent before the rollback acts on that report.
        response = await third.command(lost[1], "acknowledge", auth("grid-heyuan"))
        assert response.status_code == 200, response.text
        assert (await stored(third, lost[1])).description == "第3号 消防箱玻璃碎了"

    assert await rebuild.run(settings, write=False) == 0
    await each_submitted_once(own.js, kept + lost + fresh)


async def test_a_running_intake_notices_redis_going_back_and_rebuilds(
    own: OwnIntake,
) -> None:
    async with own.start(record_check_seconds=0.2) as intake:
        kept = [await report(intake, i) for i in range(2)]
        own.redis.snapshot()
        lost = [await report(intake, i) for i in range(2, 5)]
        await intake.dispatch(lost[0], "grid-heyuan")
        own.redis.roll_back()  # under the running intake

        deadline = asyncio.get_running_loop().time() + 20
        while True:
            records = [await stored(intake, t) for t in lost]
            if all(records) and records[0].assignments:
                break
            assert asyncio.get_running_loop().time() < deadline, f"not rebuilt: {records}"
            await asyncio.sleep(0.05)
        assert all(r.reporter is not None for r in records)
        fresh = [await report(intake, i) for i in range(5, 8)]
        assert min(fresh) > max(kept + lost)
    await each_submitted_once(own.js, kept + lost + fresh)


async def test_a_linked_report_comes_back_from_the_contact_store_with_the_command(
    own: OwnIntake,
) -> None:
    """A duplicate's own submission is never broadcast (only ReportLinked about the
    ticket it follows): only the contact store can give it back."""
    here, near = {"lat": 39.90870, "long": 116.39750}, {"lat": 39.90870, "long": 116.39809}
    async with own.start() as intake:
        own.redis.snapshot()
        primary = await intake.submit(location=here)
        duplicate = await intake.submit(
            location=near, description="又坏了一个", reporter={"name": "周", "phone": "13700000002"}
        )
        await intake.until(primary, lambda t: t["linked_reports"] == [duplicate])
    own.redis.roll_back()
    settings = own.settings()
    assert await rebuild.run(settings, write=True) == 0  # the command writes what is missing
    assert await rebuild.run(settings, write=False) == 0  # ... and then they agree
    async with own.start() as intake:
        report_record = await stored(intake, duplicate)
        assert report_record.status == "linked"
        assert report_record.linked_to == primary
        assert report_record.description == "又坏了一个"
        assert report_record.reporter.phone == "13700000002"
        assert (await stored(intake, primary)).linked_reports == [duplicate]


async def test_ids_continue_above_the_old_redis_counter_and_the_stream(
    own: OwnIntake,
) -> None:
    """Upgrading from Redis-counted ids, or a lost id bucket: the first id of the day is
    above both the old counter and the last report in TICKETS."""
    async with own.start() as intake:
        first = await intake.submit()
        day = first[1:9]
        await own.js.delete_key_value("ticket_ids")
        await intake.app.state.intake.store.redis.set(f"ticket:seq:{day}", 0)
    async with own.start() as intake:
        assert await intake.submit() == f"T{day}{int(first[9:]) + 1:06d}"  # from the stream
        await own.js.delete_key_value("ticket_ids")
        await intake.app.state.intake.store.redis.set(f"ticket:seq:{day}", 41)
    async with own.start() as intake:
        assert await intake.submit() == f"T{day}000042"  # from the old counter


async def test_two_replicas_never_get_the_same_id(js: JetStreamContext, clean: None) -> None:
    """Two id issuers on one bucket (two intake replicas), racing, in blocks and one by
    one: every id handed out once."""

    async def nothing_used_yet(day: str) -> int:
        return 0

    one = await TicketIds.open(js, nothing_used_yet, block=1)
    other = await TicketIds.open(js, nothing_used_yet, block=7)
    issued = await asyncio.gather(
        *(issuer.next("20261202") for _ in range(60) for issuer in (one, other))
    )
    assert len(set(issued)) == len(issued) == 120


async def records_and_indexes(url: str) -> dict[str, Any]:
    """Every record and index entry Redis holds (the watermark aside)."""
    client = Redis.from_url(url)
    try:
        found: dict[str, Any] = {}
        async for key in client.scan_iter("*"):
            name = key.decode()
            if name.startswith("ticket:T"):
                found[name] = json.loads(PACKING.unpack(await client.get(key) or b"null"))
            elif name.startswith(("idx:", "geo:")):
                found[name] = await client.zrange(key, 0, -1, withscores=True)
        return found
    finally:
        await client.aclose()


async def test_a_rebuild_in_shards_writes_what_one_process_writes(
    own: OwnIntake,
) -> None:
    """`--workers N`: each process folds the tickets of its shard, a linked report with its
    lead (placed where the lead is), and together they write what one process writes."""
    pairs: list[tuple[str, str]] = []
    async with own.start() as intake:
        own.redis.snapshot()
        singles = [await intake.submit(description=f"第{n}个") for n in range(5)]
        for n in range(4):
            here = {"lat": 39.90 + n * 0.01, "long": 116.3975}
            near = here | {"long": 116.3981}
            lead = await intake.submit(location=here)
            report = await intake.submit(location=near, description=f"又坏了 {n}")
            await intake.until(lead, lambda t, r=report: t["linked_reports"] == [r])
            await intake.dispatch(lead, "grid-heyuan")  # placing the lead places its report
            pairs.append((lead, report))
        await intake.dispatch(singles[0], "grid-heyuan")
    # Shards that split at least one lead from its report by their own ids.
    workers = next(
        n
        for n in range(2, 9)
        if any(
            rebuild.Shard(k, n).holds(lead) != rebuild.Shard(k, n).holds(report)
            for k in range(n)
            for lead, report in pairs
        )
    )
    settings = own.settings()
    own.redis.roll_back()
    assert await rebuild.run(settings, write=True, workers=workers) == 0
    in_shards = await records_and_indexes(own.redis.url)
    own.redis.roll_back()
    assert await rebuild.run(settings, write=True) == 0
    in_one = await records_and_indexes(own.redis.url)
    assert in_shards == in_one
    assert len([k for k in in_one if k.startswith("ticket:")]) == 13
    for lead, report in pairs:
        assert in_one[f"ticket:{report}"]["street"] == in_one[f"ticket:{lead}"]["street"]
        assert in_one[f"ticket:{report}"]["street"] is not None
