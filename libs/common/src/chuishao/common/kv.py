"""Read models shared through JetStream key-value buckets: one service writes, others
keep a live local copy through a watch."""

import asyncio
import contextlib
from collections.abc import Callable
from typing import Generic, TypeVar

import structlog
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import BucketNotFoundError, NoKeysError, NotFoundError
from nats.js.kv import KeyValue
from pydantic import BaseModel, ValidationError

from chuishao.common.transient import retried

Model = TypeVar("Model", bound=BaseModel)
log = structlog.get_logger()


async def bucket(js: JetStreamContext, config: KeyValueConfig) -> KeyValue:
    try:
        return await js.key_value(config.bucket)
    except (BucketNotFoundError, NotFoundError):
        return await js.create_key_value(config)


async def publish_all(
    js: JetStreamContext, config: KeyValueConfig, entries: dict[str, BaseModel]
) -> None:
    """Make the bucket hold exactly these entries (idempotent, so retried whole)."""
    await retried(lambda: _publish_all(js, config, entries), f"publish {config.bucket}")


async def _publish_all(
    js: JetStreamContext, config: KeyValueConfig, entries: dict[str, BaseModel]
) -> None:
    kv = await bucket(js, config)
    for key, model in entries.items():
        await kv.put(key, model.model_dump_json().encode())
    try:
        existing = set(await kv.keys())
    except (NoKeysError, NotFoundError):
        existing = set()
    for stale in existing - entries.keys():
        await kv.delete(stale)


class KvView(Generic[Model]):
    """A live local copy of a bucket, kept current by a watch."""

    def __init__(self, config: KeyValueConfig, model: type[Model]) -> None:
        self.config = config
        self.model = model
        self._entries: dict[str, Model] = {}
        self._task: asyncio.Task[None] | None = None
        self.loaded = asyncio.Event()

    def get(self, key: str) -> Model | None:
        return self._entries.get(key)

    def all(self) -> list[Model]:
        return [self._entries[key] for key in sorted(self._entries)]

    async def start(self, js: JetStreamContext) -> None:
        async def watch() -> KeyValue.KeyWatcher:
            return await (await bucket(js, self.config)).watchall()

        watcher = await retried(watch, f"watch {self.config.bucket}")
        self._task = asyncio.create_task(self._follow(watcher))

    async def _follow(self, watcher: KeyValue.KeyWatcher) -> None:
        async for entry in watcher:
            if entry is None:  # the initial values have all been delivered
                self.loaded.set()
                continue
            if entry.operation in ("DEL", "PURGE") or entry.value is None:
                self._entries.pop(entry.key, None)
                continue
            try:
                self._entries[entry.key] = self.model.model_validate_json(entry.value)
            except ValidationError as error:
                log.error(
                    "kv_entry_invalid", bucket=self.config.bucket, key=entry.key, error=str(error)
                )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class ReadModel(Generic[Model]):
    """One read model: its bucket (the latest value of each key, on disk), how its writer
    publishes the whole set, and how a reader watches it. `catalogue`, `units` and
    `places` are each one of these."""

    def __init__(
        self, name: str, description: str, model: type[Model], key: Callable[[Model], str]
    ) -> None:
        self.config = KeyValueConfig(
            bucket=name, description=description, history=1, storage=StorageType.FILE
        )
        self.model = model
        self.key = key

    async def publish(self, js: JetStreamContext, items: list[Model]) -> None:
        await publish_all(js, self.config, {self.key(item): item for item in items})

    def view(self) -> KvView[Model]:
        return KvView(self.config, self.model)
