"""KafkaStreams: the lifecycle of one application instance (start, run, close, state).

Thin on purpose: it validates, owns the state machine and the stream thread, and
wires metrics; the work happens in StreamThread.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from .._time import to_millis
from ..config import StreamsConfig
from ..errors import ConfigError, IllegalStateError, InvalidStateStoreError, TopologyError
from ..metrics import StreamsMetrics
from ..ops.server import StatusServer
from ..state.builders import KeyValueStoreBuilder
from ..state.kv import ReadOnlyKeyValueStore
from ..topology import Topology
from .bounded import BoundedRun, BoundedRunSummary, check_acyclic
from .state import TRANSITIONS, State
from .stream_thread import StreamThread
from .uncaught import UncaughtExceptionHandler

log = logging.getLogger("kstreamlite.streams")

StateListener = Callable[[State, State], None]

# REPLACE_THREAD: a thread that failed within REPLACE_QUICK_S of its start is replaced
# after REPLACE_BACKOFF_S, doubling for each such failure in a row, up to the maximum.
REPLACE_QUICK_S = 30.0
REPLACE_BACKOFF_S = 0.5
REPLACE_BACKOFF_MAX_S = 30.0


class KafkaStreams:
    """Runs a Topology against Kafka as one member of the consumer group ``application_id``."""

    def __init__(self, topology: Topology, config: StreamsConfig | dict[str, Any]) -> None:
        if not isinstance(topology, Topology):
            raise TopologyError(
                f"KafkaStreams needs a Topology (builder.build()), not {type(topology).__name__}"
            )
        if isinstance(config, dict):
            config = StreamsConfig(**config)
        if not isinstance(config, StreamsConfig):
            raise ConfigError("config must be a StreamsConfig or a dict of its fields")
        config.require_bootstrap_servers()
        topology.subtopologies()  # fail now, not in the background, on a broken graph
        self.topology = topology
        self.config = config
        self._metrics = StreamsMetrics(config.application_id)
        self._state = State.CREATED
        self._state_lock = threading.RLock()
        self._state_changed = threading.Condition(self._state_lock)
        self._listener: StateListener | None = None
        self._rebalance_started: float | None = None
        self._handler: UncaughtExceptionHandler | None = None
        self._started_at: float | None = None
        self._status: StatusServer | None = None
        self._quick_failures = 0  # consecutive replaced threads that failed soon after start
        self._replace_cancelled = threading.Event()  # close() ends a replacement's wait
        self._thread = self._new_thread()

    def _new_thread(self) -> StreamThread:
        return StreamThread(
            self.topology,
            self.config,
            self._metrics,
            self._transition,
            handler=self._handler,
            on_replace=self._replace_thread,
        )

    # ---- state ----

    @property
    def state(self) -> State:
        return self._state

    @property
    def exception(self) -> BaseException | None:
        """The error that put the instance into ERROR, if any."""
        return self._thread.error

    def set_state_listener(self, listener: StateListener | None) -> None:
        """``listener(new_state, old_state)`` on every transition, called from the stream thread."""
        if self._state is not State.CREATED:
            raise IllegalStateError("set_state_listener() must be called before start()")
        self._listener = listener

    def set_uncaught_exception_handler(self, handler: UncaughtExceptionHandler | None) -> None:
        """``handler(exception)`` decides what a failed stream thread does: return
        REPLACE_THREAD (drop its tasks, start a new thread that rejoins and re-reads from
        the last commit), SHUTDOWN_CLIENT (this instance stops in ERROR, the default) or
        SHUTDOWN_APPLICATION (every instance of the application stops in ERROR)."""
        if self._state is not State.CREATED:
            raise IllegalStateError(
                "set_uncaught_exception_handler() must be called before start()"
            )
        if handler is not None and not callable(handler):
            raise ConfigError(
                "the uncaught exception handler must be a function of the exception returning "
                "a StreamThreadExceptionResponse"
            )
        self._handler = handler
        self._thread = self._new_thread()

    def _replace_thread(self, failed: StreamThread) -> None:
        """REPLACE_THREAD: called by the failed thread as its last act. A thread that fails
        soon after it started waits a little longer each time before its successor
        starts, so a failure that repeats (a dead broker) does not spin."""
        lived = time.monotonic() - failed.started_at
        self._quick_failures = self._quick_failures + 1 if lived < REPLACE_QUICK_S else 0
        delay = min(REPLACE_BACKOFF_S * 2 ** (self._quick_failures - 1), REPLACE_BACKOFF_MAX_S)
        if self._quick_failures:
            log.warning(
                "the stream thread failed %.1f s after it started; replacing it in %.1f s",
                lived,
                delay,
            )
            self._replace_cancelled.wait(delay)
        with self._state_lock:
            if self._state in (State.PENDING_SHUTDOWN, State.NOT_RUNNING):
                self._transition(State.NOT_RUNNING)
                return
            self._metrics.thread_replacements.labels(self.config.application_id).inc()
            log.warning(
                "replacing the failed stream thread (%s); its tasks start again from the last "
                "commit",
                failed.error,
            )
            self._transition(State.REBALANCING)
            if self._state is not State.REBALANCING:  # the state listener closed the app
                self._transition(State.NOT_RUNNING)
                return
            thread = self._new_thread()
            thread.bounded = None if failed.bounded is None else failed.bounded.fresh()
            self._thread = thread
            thread.start()

    def _transition(self, new: State) -> None:
        with self._state_lock:
            old = self._state
            if old is State.PENDING_SHUTDOWN and new in (State.PENDING_ERROR, State.ERROR):
                # As in Kafka Streams: a failure while closing still ends in NOT_RUNNING;
                # the error stays readable in ``exception``.
                new = State.NOT_RUNNING
            if new is old and new is not State.REBALANCING:
                return
            if new not in TRANSITIONS[old]:
                log.debug("ignoring state transition %s -> %s", old.name, new.name)
                return
            self._state = new
            self._state_changed.notify_all()
        self._meter_rebalance(new, old)
        log.info("state %s -> %s", old.name, new.name)
        if self._listener is not None:
            try:
                self._listener(new, old)
            except Exception:
                log.exception("the state listener raised; ignoring")

    def _meter_rebalance(self, new: State, old: State) -> None:
        app = self.config.application_id
        if new is State.REBALANCING and old is not State.REBALANCING:
            self._rebalance_started = time.monotonic()
            self._metrics.rebalances.labels(app).inc()
        elif new is State.RUNNING and self._rebalance_started is not None:
            duration = time.monotonic() - self._rebalance_started
            self._metrics.rebalance_duration.labels(app).observe(duration)
            self._rebalance_started = None

    # ---- lifecycle ----

    def start(self) -> None:
        """Start processing in a background thread and return at once."""
        with self._state_lock:
            if self._state is not State.CREATED:
                raise IllegalStateError(
                    f"start() can be called once, on a new instance (state is {self._state.name})"
                )
            if self.config.metrics_port is not None:  # a port in use fails before anything runs
                self._status = StatusServer(
                    self, self.config.metrics_port, self.config.metrics_host
                )
                self._status.start()
            self._started_at = time.monotonic()
            self._transition(State.REBALANCING)
        self._thread.start()

    def run(self, bounded: bool = False) -> BoundedRunSummary | None:
        """Start and block until close(), SIGINT or SIGTERM; re-raises the error that stopped it.

        ``bounded=True``: process what the source topics hold now (their end offsets at
        assignment), close every window (unless ``flush_windows_at_end=False``), commit,
        close, and return a summary of what was read and written.
        """
        if bounded:
            if self._state is not State.CREATED:
                raise IllegalStateError("run(bounded=True) must be called on a new instance")
            check_acyclic(self.topology)
            self._thread.bounded = BoundedRun(self.config.flush_windows_at_end)
        previous = self._install_signal_handlers()
        try:
            self.start()
            while self._thread.is_alive():  # a replaced thread starts its successor first
                self._thread.join(0.2)
        finally:
            self._restore_signal_handlers(previous)
            self._stop_status()
        if self._thread.error is not None:
            raise self._thread.error
        return self._thread.summary

    def close(self, timeout: int | timedelta = 30_000) -> bool:
        """Commit, flush and leave the group; True if that finished within ``timeout``."""
        timeout_s = to_millis(timeout, "timeout") / 1000
        with self._state_lock:
            if self._state is State.CREATED:
                self._transition(State.PENDING_SHUTDOWN)
                self._transition(State.NOT_RUNNING)
                return True
            self._transition(State.PENDING_SHUTDOWN)
        deadline = time.monotonic() + timeout_s
        self._replace_cancelled.set()
        while True:
            thread = self._thread
            thread.request_stop()
            if thread.ident is None:  # never started (start() failed)
                self._transition(State.NOT_RUNNING)
                self._stop_status()
                return True
            if threading.current_thread() is thread:
                return False  # called from a listener or processor: cannot wait for ourselves
            thread.join(max(deadline - time.monotonic(), 0))
            if thread is self._thread or thread.is_alive():  # else it was replaced: stop that one
                break
        if not thread.is_alive():
            self._stop_status()
        return not thread.is_alive()

    def _stop_status(self) -> None:
        status, self._status = self._status, None
        if status is not None:
            status.stop()

    def wait_for_state(self, *states: State, timeout: int | timedelta = 30_000) -> bool:
        """Block until the instance is in one of ``states``; False on timeout."""
        deadline = time.monotonic() + to_millis(timeout, "timeout") / 1000
        with self._state_changed:
            while self._state not in states:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._state_changed.wait(left)
            return True

    def store(self, name: str) -> ReadOnlyKeyValueStore:
        """A read-only view of store ``name`` over this instance's local tasks.

        Raises InvalidStateStoreError while the instance is not RUNNING (retry after the
        rebalance) or when the topology has no such store.
        """
        global_tables = self.topology.global_tables
        if name not in self.topology.store_builders and name not in global_tables:
            raise InvalidStateStoreError(
                f"the topology has no state store named {name!r}; its stores are "
                f"{sorted([*self.topology.store_builders, *global_tables])}"
            )
        if self._state is not State.RUNNING:
            raise InvalidStateStoreError(
                f"store {name!r} is not queryable while the instance is {self._state.name}; "
                "retry once it is RUNNING"
            )
        if name in global_tables:  # a whole copy on every instance
            tables = self._thread.global_tables
            return ReadOnlyKeyValueStore(name, [tables.stores[name]] if tables else [])
        stores = [
            task.state.stores[name]
            for task in list(self._thread.tasks.values())
            if task.state is not None and name in task.state.stores
        ]
        kind = type(self.topology.store_builders[name])
        if kind is not KeyValueStoreBuilder:  # window, session or suppression stores
            raise InvalidStateStoreError(
                f"store {name!r} is a {kind.__name__.removesuffix('Builder')}; interactive "
                "queries serve key-value stores only so far"
            )
        return ReadOnlyKeyValueStore(name, stores)

    def metrics(self) -> dict[str, float]:
        """Current values of this instance's metrics, ``name{labels}`` -> value: counters
        (``*_total``), gauges, and histograms' ``_count`` and ``_sum``."""
        return self._metrics.snapshot()

    @property
    def status_url(self) -> str | None:
        """The status page's address while ``metrics_port`` is served, else None."""
        return None if self._status is None else self._status.url

    @property
    def uptime_s(self) -> float:
        return 0.0 if self._started_at is None else time.monotonic() - self._started_at

    def task_snapshot(self) -> list[dict[str, Any]]:
        """This instance's tasks as the status page shows them: id, state, input
        partitions with position and lag, watermark, records/s, stores."""
        for _ in range(5):  # the stream thread may reassign while we copy
            try:
                return self._thread.task_snapshot()
            except RuntimeError:
                time.sleep(0.01)
        return []

    @property
    def metrics_registry(self) -> Any:
        return self._metrics.registry

    def __enter__(self) -> KafkaStreams:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- signals ----

    def _install_signal_handlers(self) -> dict[int, Any]:
        if threading.current_thread() is not threading.main_thread():
            return {}
        previous: dict[int, Any] = {}

        def stop(signum: int, frame: Any) -> None:
            log.info("received signal %d; closing", signum)
            threading.Thread(target=self.close, daemon=True).start()

        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, stop)
        return previous

    @staticmethod
    def _restore_signal_handlers(previous: dict[int, Any]) -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
