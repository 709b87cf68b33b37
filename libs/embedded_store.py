"""The embedded MongoDB-wire-compatible store (the ``nx-27017`` package) as a child process.

Used when ``LEADMESH_MONGODB_URI`` is unset (``leadmesh up``) and by the tests. Each instance has
its own data directory, pid file and log file, so several can run on one machine.

The child runs nx-27017's threaded server (``python -m libs.embedded_store``): a thread per
connection answers each command where it reads it. Its default asyncio server hands every command
to a thread pool and back, and with its per-command log lines that cost about 0.5 ms of CPU per
command (measured with ``benchmarks/lead_api.py``: 4.7 against 3.3 ms of store CPU per lead).
Commands are serialized per database either way. The log file keeps warnings and errors.
"""

from __future__ import annotations

import ctypes
import logging
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["EmbeddedStore", "die_with_parent", "free_port"]


def die_with_parent() -> None:
    """In a child before exec: ask Linux to SIGTERM it when its parent dies, even by SIGKILL."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


PR_SET_PDEATHSIG = 1
# Connections the store's listening socket queues before it accepts them (the kernel caps it at
# net.core.somaxconn).
ACCEPT_BACKLOG = 4096


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class EmbeddedStore:
    """``with EmbeddedStore(Path(".leadmesh/store"), 27117) as store: store.uri``."""

    directory: Path
    port: int
    host: str = "127.0.0.1"
    startup_timeout: float = 20.0
    _process: subprocess.Popen[bytes] | None = field(init=False, default=None)

    @property
    def uri(self) -> str:
        return f"mongodb://{self.host}:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.directory / "nx-27017.log"

    def start(self) -> str:
        data = self.directory / "data"
        data.mkdir(parents=True, exist_ok=True)
        if _accepts(self.host, self.port):
            raise RuntimeError(f"port {self.port} is already in use; is another store or stack running?")
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "libs.embedded_store",
                "--threaded",
                "--data-dir",
                str(data),
                "--host",
                self.host,
                "--port",
                str(self.port),
                "--pid-file",
                str(self.directory / "nx-27017.pid"),
                "--log-file",
                str(self.log_file),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        deadline = time.monotonic() + self.startup_timeout
        while not _accepts(self.host, self.port):
            if self._process.poll() is not None:
                raise RuntimeError(f"the embedded store exited at start-up; see {self.log_file}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the embedded store did not start in {self.startup_timeout:.0f}s")
            time.sleep(0.05)
        return self.uri

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> EmbeddedStore:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def _serve() -> None:
    """The child process: nx-27017's command line (``--threaded`` among its arguments), without its
    INFO lines (one per command in the threaded server)."""
    from nx_27017 import nx_27017, server

    logging.getLogger("nx_27017").setLevel(logging.WARNING)
    # nx-27017 listens with a backlog of 128: a burst of new connections past it (several
    # processes growing their pools at once) waits for SYN retries, seconds, and times out.
    server.SOCKET_BACKLOG = ACCEPT_BACKLOG
    nx_27017.main()


if __name__ == "__main__":
    _serve()
