"""The category catalogue: written by the router from its plugins, read by intake.

It lives in a JetStream key-value bucket so there is one source of truth that both
services see, and intake needs no copy of the router's plugins.
"""

import asyncio
import contextlib
from typing import Literal

import structlog
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType
from nats.js.kv import KeyValue
from pydantic import BaseModel, ConfigDict, Field

from chuishao.common.domain import CategoryCode, Priority

BUCKET = KeyValueConfig(
    bucket="catalogue",
    description="Categories served by the router's plugins",
    history=1,
    storage=StorageType.FILE,
)
log = structlog.get_logger()


class Attribute(BaseModel):
    """An Open311 attribute definition."""

    model_config = ConfigDict(frozen=True)

    code: str
    datatype: Literal[
        "string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"
    ] = "string"
    description: str
    required: bool = False
    datatype_description: str | None = None
    order: int = 1
    values: tuple[tuple[str, str], ...] = ()


class Category(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: CategoryCode
    name: str
    description: str = ""
    group: str = ""
    keywords: tuple[str, ...] = ()
    default_priority: Priority = Priority.NORMAL
    attributes: tuple[Attribute, ...] = Field(default=())


async def catalogue_bucket(js: JetStreamContext) -> KeyValue:
    try:
        return await js.key_value(BUCKET.bucket)
    except Exception:
        return await js.create_key_value(BUCKET)


async def publish_catalogue(js: JetStreamContext, categories: list[Category]) -> None:
    bucket = await catalogue_bucket(js)
    for category in categories:
        await bucket.put(category.code, category.model_dump_json().encode())


class CatalogueView:
    """A live local copy of the catalogue, kept current by a KV watch."""

    def __init__(self) -> None:
        self._categories: dict[str, Category] = {}
        self._task: asyncio.Task[None] | None = None
        self.loaded = asyncio.Event()

    def get(self, code: str) -> Category | None:
        return self._categories.get(code)

    def all(self) -> list[Category]:
        return sorted(self._categories.values(), key=lambda c: c.code)

    async def start(self, js: JetStreamContext) -> None:
        bucket = await catalogue_bucket(js)
        watcher = await bucket.watchall()
        self._task = asyncio.create_task(self._follow(watcher))

    async def _follow(self, watcher: "KeyValue.KeyWatcher") -> None:
        async for entry in watcher:
            if entry is None:  # the initial values have all been delivered
                self.loaded.set()
                continue
            if entry.operation in ("DEL", "PURGE") or entry.value is None:
                self._categories.pop(entry.key, None)
                continue
            try:
                self._categories[entry.key] = Category.model_validate_json(entry.value)
            except ValueError as error:
                log.error("catalogue_entry_invalid", key=entry.key, error=str(error))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
