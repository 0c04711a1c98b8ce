"""The router's files (directory, triage vocabulary) as a live snapshot: loaded at
start-up, reloaded when a file changes (polled) or on SIGHUP, and published as the read
models the other services watch (units, places, catalogue)."""

import asyncio
import contextlib
import signal
from collections.abc import Callable
from pathlib import Path

import pluggy
import structlog
from faststream.nats import NatsBroker

from chuishao.common.catalogue import publish_catalogue
from chuishao.common.clock import Clock
from chuishao.common.places import publish_places
from chuishao.common.units import publish_units
from chuishao.router.directory import Directory, DirectoryError
from chuishao.router.document import place_names
from chuishao.router.plugins_manager import Dispatcher
from chuishao.router.settings import RouterSettings
from chuishao.router.snapshot import Snapshot
from chuishao.router.triage import Vocabulary

log = structlog.get_logger()
Signature = tuple[tuple[int, int] | None, ...]


def _stat(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_size)


class DirectoryWatch:
    def __init__(
        self,
        settings: RouterSettings,
        manager: pluggy.PluginManager,
        clock: Clock,
        broker: NatsBroker,
    ) -> None:
        self.settings = settings
        self.manager = manager
        self.clock = clock
        self.broker = broker
        self._files = (settings.directory_file, settings.triage_file)
        self._signature = self._stat()
        # A directory with a problem stops the start-up here, with every problem named.
        self.snapshot = self._load()
        self._reloading: set[asyncio.Task[bool]] = set()

    def _stat(self) -> Signature:
        return tuple(_stat(path) for path in self._files)

    def _load(self) -> Snapshot:
        directory = Directory.load(self.settings.directory_file)
        try:
            vocabulary = Vocabulary.load(self.settings.triage_file)
        except (OSError, ValueError) as error:
            raise DirectoryError(f"{self.settings.triage_file}: {error}") from error
        dispatcher = Dispatcher(self.manager, directory)
        return Snapshot.build(dispatcher, vocabulary, self.settings.policy(), self.clock)

    def current(self) -> Snapshot:
        return self.snapshot

    async def reload(self, why: str) -> bool:
        """Swap in the files as they are now; a file with a problem is refused and the
        running version stays in force."""
        self._signature = self._stat()
        try:
            snapshot = self._load()
        except DirectoryError as error:
            log.error(
                "directory_reload_refused",
                why=why,
                error=str(error),
                kept_version=self.snapshot.directory.version,
            )
            return False
        self.snapshot = snapshot
        if self.broker.connection is not None:
            await self.publish()
        log.info("directory_reloaded", why=why, version=snapshot.directory.version)
        return True

    async def poll(self) -> None:
        """One look at the files (a background loop's step)."""
        if self._stat() == self._signature:
            return
        try:
            await self.reload("file changed")
        except Exception:
            self._signature = ()  # differs from any real one: retried next poll
            raise

    async def publish(self) -> None:
        js = self.broker.connection.jetstream()
        directory = self.snapshot.directory
        await publish_units(js, [directory.contact(unit) for unit in directory.units])
        await publish_places(js, place_names(directory.document))
        await publish_catalogue(js, self.snapshot.catalogue)

    # --- SIGHUP

    async def listen(self) -> None:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self._on_sighup)

    async def stop_listening(self) -> None:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
        tasks = list(self._reloading)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=10)

    def _on_sighup(self) -> None:
        task = asyncio.ensure_future(self.reload("SIGHUP"))
        self._reloading.add(task)
        task.add_done_callback(self._reloading.discard)


SnapshotSource = Callable[[], Snapshot]
