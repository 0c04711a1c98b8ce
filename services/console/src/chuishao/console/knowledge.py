"""The 12345 knowledge base: per category, the official answer to a common question,
kept by admins, read by operators on a call (直接答复).

One JetStream KV bucket, an entry per key: the bucket's history keeps the earlier
versions (the admin page lists them), every console reads a live copy (KvView), and an
answer given on a call names the entry and the version it came from, so what was said
can be told later whatever the entry says now.
"""

import asyncio
import re
import secrets
import tomllib
from datetime import datetime
from pathlib import Path

from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError, NoKeysError
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from chuishao.common.domain import FreeText
from chuishao.common.kv import KvView, bucket

BUCKET = KeyValueConfig(
    bucket="knowledge",
    description="12345 knowledge base: entry id -> the official answer (history: versions)",
    history=64,  # JetStream's most: the last 64 versions of each entry
    storage=StorageType.FILE,
)
ENTRY_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class KnowledgeEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    entry_id: str = Field(pattern=ENTRY_ID.pattern)
    category: str | None = None
    question: FreeText = Field(min_length=1, max_length=200)
    answer: FreeText = Field(min_length=1, max_length=2000)
    version: int = Field(ge=1)
    updated_by: str
    updated_at: AwareDatetime
    retired: bool = False  # kept for the record, offered no more


def knowledge_view() -> KvView[KnowledgeEntry]:
    return KvView(BUCKET, KnowledgeEntry)


def search(
    entries: list[KnowledgeEntry], words: str, category: str | None = None
) -> list[KnowledgeEntry]:
    """Live entries whose question or answer holds every word typed (or of the category)."""
    terms = words.split()
    found = [
        e
        for e in entries
        if not e.retired
        and (category is None or e.category == category)
        and all(t in e.question or t in e.answer for t in terms)
    ]
    return sorted(found, key=lambda e: (e.category or "", e.question))


async def save(
    js: JetStreamContext,
    *,
    entry_id: str | None,
    category: str | None,
    question: str,
    answer: str,
    by: str,
    at: datetime,
    retired: bool = False,
) -> KnowledgeEntry:
    """A new entry, or the next version of one (ValidationError for a bad field). Written
    with the revision it read, so two admins saving at once cannot both win silently."""
    kv = await bucket(js, BUCKET)
    key = entry_id or f"kb-{secrets.token_hex(6)}"
    try:
        current = await kv.get(key) if entry_id else None
    except KeyNotFoundError:
        current = None
    version = (
        KnowledgeEntry.model_validate_json(current.value).version + 1
        if current and current.value
        else 1
    )
    entry = KnowledgeEntry(
        entry_id=key,
        category=category or None,
        question=question,
        answer=answer,
        version=version,
        updated_by=by,
        updated_at=at,
        retired=retired,
    )
    data = entry.model_dump_json().encode()
    if current is None:
        await kv.create(key, data)
    else:
        await kv.update(key, data, last=current.revision)
    return entry


async def versions(js: JetStreamContext, entry_id: str) -> list[KnowledgeEntry]:
    """The entry's kept versions, newest first."""
    kv = await bucket(js, BUCKET)
    try:
        history = await kv.history(entry_id)
    except (KeyNotFoundError, NoKeysError):
        return []
    kept = []
    for item in history:
        if item.value:
            try:
                kept.append(KnowledgeEntry.model_validate_json(item.value))
            except ValidationError:
                continue
    return sorted(kept, key=lambda e: e.version, reverse=True)


SEEDED_BY = "seed"


async def seed(js: JetStreamContext, path: Path, at: datetime) -> int:
    """Starter entries from a TOML file (`[[entry]]` with `id`, `category`, `question`,
    `answer`) — `make run`'s, so a fresh seat has answers to find. Only entries whose id
    is not in the bucket are added (version 1, by "seed"): an entry an admin has edited
    or retired since is never overwritten. The number added."""
    document = tomllib.loads(await asyncio.to_thread(path.read_text, encoding="utf-8"))
    kv = await bucket(js, BUCKET)
    added = 0
    for item in document.get("entry", []):
        entry = KnowledgeEntry(
            entry_id=item["id"],
            category=item.get("category") or None,
            question=item["question"],
            answer=item["answer"],
            version=1,
            updated_by=SEEDED_BY,
            updated_at=at,
        )
        try:
            await kv.create(entry.entry_id, entry.model_dump_json().encode())
        except KeyWrongLastSequenceError:  # there already (a console seeding at once too)
            continue
        added += 1
    return added
