"""Importing a 12345 ledger: bad rows are reported and never block good ones; a re-run
files nothing twice."""

import asyncio
import csv
import sys
from pathlib import Path

from chuishao.intake.batch import import_ledger
from support.intake import OPERATOR, Harness
from support.servers import Servers

LEDGER = [
    {
        "ledger_id": "12345-0001",
        "category": "fire_box",
        "description": "消防箱玻璃破损",
        "address": "和园小区 3 号楼",
        "phone": "13800000001",
        "name": "赵",
    },
    {
        "ledger_id": "12345-0002",
        "category": "",
        "description": "楼道里有人给电动车充电",
        "grid_code": "HY-01",
    },
    {
        "ledger_id": "12345-0003",
        "category": "fire_box",
        "description": "消防栓漏水",
        "lat": "39.91",
        "long": "116.40",
        "phone": "12",
    },
    {"ledger_id": "12345-0004", "category": "fire_box", "description": "", "address": "柳岸路"},
    {
        "ledger_id": "12345-0005",
        "category": "teleport",
        "description": "传送门坏了",
        "address": "柳岸路",
    },
    {"ledger_id": "", "category": "fire_box", "description": "没有编号", "address": "柳岸路"},
    {
        "ledger_id": "12345-0007",
        "category": "bus_obstruction",
        "description": "公交车排队堵路",
        "address": "柳岸路加气站",
        "priority": "urgent",
    },
]


def write_ledger(path: Path) -> Path:
    columns = [
        "ledger_id",
        "category",
        "description",
        "address",
        "lat",
        "long",
        "grid_code",
        "priority",
        "name",
        "phone",
        "media_url",
    ]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(LEDGER)
    return path


async def test_good_rows_land_bad_rows_are_reported_and_reruns_add_nothing(
    intake: Harness, servers: Servers, tmp_path: Path
) -> None:
    ledger = write_ledger(tmp_path / "ledger.csv")
    first = await import_ledger(ledger, servers.nats_url, show_progress=False)
    assert first.created == 3
    assert [(e["row"], e["ledger_id"]) for e in first.errors] == [
        ("4", "12345-0003"),
        ("5", "12345-0004"),
        ("6", "12345-0005"),
        ("7", ""),
    ]
    assert "phone" in first.errors[0]["error"]
    assert "description" in first.errors[1]["error"]
    assert "no category teleport" in first.errors[2]["error"]
    assert "ledger_id" in first.errors[3]["error"]

    again = await import_ledger(ledger, servers.nats_url, show_progress=False)
    assert (again.created, again.already_there, len(again.errors)) == (0, 3, 4)

    listing = await intake.http.get(
        "/api/v1/tickets", params={"channel": "batch_import"}, headers=OPERATOR
    )
    assert len(listing.json()["items"]) == 3


async def test_the_command_line_writes_an_error_report(
    intake: Harness, servers: Servers, tmp_path: Path
) -> None:
    ledger = write_ledger(tmp_path / "ledger.csv")
    # The intake app runs in this event loop, so the CLI must not block it.
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "chuishao.intake.batch",
        str(ledger),
        "--nats",
        servers.nats_url,
        stdout=asyncio.subprocess.PIPE,
    )
    stdout, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 1
    assert "created 3, already imported 0, rejected 4" in stdout.decode()
    with (tmp_path / "ledger.errors.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["row"] for row in rows] == ["4", "5", "6", "7"]
