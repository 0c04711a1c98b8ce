"""Import a hotline ledger (CSV) through the same front door as everything else.

    python -m chuishao.intake.batch ledger.csv [--nats nats://…] [--errors report.csv]

Each row becomes a SubmitReport sent on `cmd.submit` with the idempotency key
`ledger:<ledger_id>`, so a re-run never files a row twice. A bad row is reported (row
number, ledger id, the field and what is wrong) and never blocks the good ones.

Columns: ledger_id, category, description, address, lat, long, grid_code, priority,
name, phone, media_url (only ledger_id and description are required).
"""

import argparse
import asyncio
import csv
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client
from pydantic import ValidationError
from tqdm import tqdm

from chuishao.common import subjects
from chuishao.common.commands import SubmitReport
from chuishao.common.domain import Channel
from chuishao.intake.settings import IntakeSettings

CONCURRENCY = 32


@dataclass
class BatchReport:
    created: int = 0
    already_there: int = 0
    errors: list[dict[str, str]] = field(default_factory=list)


def report_from_row(row: dict[str, str]) -> SubmitReport:
    def value(name: str) -> str | None:
        text = (row.get(name) or "").strip()
        return text or None

    location = {
        k: v
        for k, v in (
            ("address", value("address")),
            ("lat", value("lat")),
            ("long", value("long")),
            ("grid_code", value("grid_code")),
        )
        if v
    }
    reporter = {k: v for k, v in (("name", value("name")), ("phone", value("phone"))) if v}
    payload: dict[str, Any] = {
        "category": value("category"),
        "description": value("description") or "",
        "location": location,
        "channel": Channel.BATCH_IMPORT,
        "priority": value("priority") or "normal",
        "reporter": reporter or None,
        "media_urls": [value("media_url")] if value("media_url") else [],
    }
    return SubmitReport.model_validate(payload)


async def submit_row(
    connection: Client,
    number: int,
    row: dict[str, str],
    outcome: BatchReport,
    progress: "tqdm[Any]",
) -> None:
    ledger_id = (row.get("ledger_id") or "").strip()
    try:
        if not ledger_id:
            raise ValueError("ledger_id is empty")
        report = report_from_row(row)
        reply = await connection.request(
            subjects.SUBMIT_REPORT,
            report.model_dump_json().encode(),
            timeout=10,
            headers={"Idempotency-Key": f"ledger:{ledger_id}"},
        )
        answer = json.loads(reply.data)
        if not answer.get("ok"):
            # The one error shape (chuishao.common.errors): both languages for the ledger's
            # reader, the field first so a clerk finds the cell to fix.
            error = answer["error"]
            message = f"{error['message_zh']} ({error['message_en']})"
            raise ValueError(f"{error['field']}: {message}" if error.get("field") else message)
        if answer["created"]:
            outcome.created += 1
        else:
            outcome.already_there += 1
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        outcome.errors.append(
            {"row": str(number), "ledger_id": ledger_id, "error": f"{where}: {first['msg']}"}
        )
    except (ValueError, TimeoutError, nats.errors.Error) as error:
        outcome.errors.append({"row": str(number), "ledger_id": ledger_id, "error": str(error)})
    finally:
        progress.update(1)


async def import_ledger(path: Path, nats_url: str, show_progress: bool = True) -> BatchReport:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    outcome = BatchReport()
    connection = await nats.connect(nats_url)
    limit = asyncio.Semaphore(CONCURRENCY)

    async def bounded(number: int, row: dict[str, str]) -> None:
        async with limit:
            await submit_row(connection, number, row, outcome, progress)

    try:
        with tqdm(total=len(rows), unit="row", disable=not show_progress) as progress:
            # Row 1 is the header, so data rows are numbered as a spreadsheet shows them.
            await asyncio.gather(*(bounded(n, row) for n, row in enumerate(rows, start=2)))
    finally:
        await connection.close()
    outcome.errors.sort(key=lambda e: int(e["row"]))
    return outcome


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m chuishao.intake.batch",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("ledger", type=Path)
    parser.add_argument("--nats", default=IntakeSettings().nats_url)
    parser.add_argument("--errors", type=Path, help="where to write the per-row error report")
    args = parser.parse_args()
    outcome = asyncio.run(import_ledger(args.ledger, args.nats, show_progress=sys.stderr.isatty()))
    report = args.errors or args.ledger.with_suffix(".errors.csv")
    if outcome.errors:
        with report.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=["row", "ledger_id", "error"])
            writer.writeheader()
            writer.writerows(outcome.errors)
    print(
        f"created {outcome.created}, already imported {outcome.already_there}, "
        f"rejected {len(outcome.errors)}" + (f" (see {report})" if outcome.errors else "")
    )
    sys.exit(1 if outcome.errors else 0)


if __name__ == "__main__":
    main()
