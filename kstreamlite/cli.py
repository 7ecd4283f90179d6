"""The ``kstreamlite`` command: a local broker, a demo pipeline, running, describing and
resetting an application, listing its topics, and streaming SQL."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

from .errors import KStreamliteError


def _cmd_broker(args: argparse.Namespace) -> int:
    from .local import LocalBroker

    with LocalBroker(port=args.port) as broker:
        print(f"broker ready: bootstrap servers {broker.bootstrap_servers}", flush=True)
        print("memory storage only: topics are gone when it stops; Ctrl-C to stop", flush=True)
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from ._demo import run_demo

    return run_demo(duration=args.duration, records_per_second=args.rate)


def _load_factory(spec: str) -> object:
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise KStreamliteError(f"expected MODULE:FACTORY (e.g. myapp.topology:build), got {spec!r}")
    sys.path.insert(0, "")
    module = importlib.import_module(module_name)
    factory = getattr(module, attr, None)
    if factory is None:
        raise KStreamliteError(f"module {module_name!r} has no attribute {attr!r}")
    return factory() if callable(factory) else factory


def _cmd_describe(args: argparse.Namespace) -> int:
    print(_load_topology(args.factory).describe())
    return 0


def _load_topology(spec: str) -> Any:
    from .topology import Topology

    topology = _load_factory(spec)
    if not isinstance(topology, Topology):
        raise KStreamliteError(f"{spec} returned {type(topology).__name__}, not a Topology")
    return topology


def _run_config(args: argparse.Namespace) -> Any:
    """Settings from, lowest first: KSTREAMLITE_* environment, --config file, flags."""
    import orjson

    from .config import StreamsConfig, environment_value

    settings: dict[str, Any] = {}
    if args.config:
        try:
            with open(args.config, "rb") as handle:
                loaded = orjson.loads(handle.read())
        except OSError as exc:
            raise KStreamliteError(f"cannot read --config {args.config!r}: {exc}") from exc
        except orjson.JSONDecodeError as exc:
            raise KStreamliteError(
                f"--config {args.config!r} is not JSON (an object of StreamsConfig fields): {exc}"
            ) from exc
        if not isinstance(loaded, dict):
            raise KStreamliteError(f"--config {args.config!r} must hold a JSON object")
        settings.update(loaded)
    for name in (
        "application_id",
        "bootstrap_servers",
        "state_dir",
        "processing_guarantee",
        "metrics_port",
        "metrics_host",
    ):
        value = getattr(args, name, None)
        if value is not None:
            settings[name] = value
    if getattr(args, "keep_windows_open", False):
        settings["flush_windows_at_end"] = False
    if getattr(args, "no_status", False):
        settings["metrics_port"] = None
    elif "metrics_port" not in settings and environment_value("metrics_port") is None:
        settings["metrics_port"] = 0  # the status page on a free port, printed at start
        if "metrics_host" not in settings and environment_value("metrics_host") is None:
            settings["metrics_host"] = "127.0.0.1"  # not on the network unless asked
    try:
        return StreamsConfig(**settings)
    except ValueError as exc:  # pydantic's ValidationError names each field
        raise KStreamliteError(f"invalid configuration: {exc}") from exc


def _cmd_run(args: argparse.Namespace) -> int:
    return _run_topology(_load_topology(args.factory), args)


def _run_topology(topology: Any, args: argparse.Namespace) -> int:
    from .runtime.state import State
    from .runtime.streams import KafkaStreams

    app = KafkaStreams(topology, _run_config(args))

    def announce(new: State, old: State) -> None:
        if old is State.CREATED and app.status_url is not None:
            print(f"status page: {app.status_url}  (metrics: {app.status_url}metrics)", flush=True)

    app.set_state_listener(announce)
    summary = app.run(bounded=args.bounded)
    if summary is not None:
        print(summary, flush=True)
    return 0


def _config_for_tools(args: argparse.Namespace) -> Any:
    """The application's settings for describe-like tools: flags over environment."""
    from .config import StreamsConfig

    settings = {
        name: getattr(args, name)
        for name in ("application_id", "bootstrap_servers", "state_dir")
        if getattr(args, name, None) is not None
    }
    try:
        return StreamsConfig(**settings)
    except ValueError as exc:
        raise KStreamliteError(
            f"invalid configuration: {exc}\n(--application-id is required, or set "
            "KSTREAMLITE_APPLICATION_ID)"
        ) from exc


def _cmd_topics(args: argparse.Namespace) -> int:
    from .ops.topics import partition_counts, topics_table

    topology = _load_topology(args.factory)
    config = _config_for_tools(args)
    counts = None
    if config.bootstrap_servers:
        counts = partition_counts(config.bootstrap_servers)
    print(topics_table(topology, config.application_id, counts))
    if counts is None:
        print("(no --bootstrap-servers: partition counts not shown)")
    return 0


def _cmd_reset(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from .ops.reset import ApplicationReset

    config = _config_for_tools(args)
    bootstrap = config.require_bootstrap_servers()
    to = None
    if args.to_datetime:
        try:
            to = datetime.fromisoformat(args.to_datetime)
        except ValueError as exc:
            raise KStreamliteError(
                f"--to-datetime {args.to_datetime!r} is not an ISO 8601 time "
                "(e.g. 2026-11-22T10:00:00Z or 2026-11-22T10:00:00+01:00)"
            ) from exc
        if to.tzinfo is None:
            to = to.replace(tzinfo=UTC)
    inputs = [t for t in (args.input_topics or "").split(",") if t]
    reset = ApplicationReset(bootstrap, config.application_id)
    plan = reset.plan(config.state_dir, inputs, to)
    print(plan.describe(), flush=True)
    if args.dry_run:
        print("dry run: nothing changed", flush=True)
        return 0
    reset.execute(plan, lambda line: print(line, flush=True))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kstreamlite", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG")
    commands = parser.add_subparsers(dest="command", required=True)

    broker = commands.add_parser("broker", help="run a local Kafka-protocol broker (Tansu)")
    broker.add_argument("--port", type=int, default=None, help="port (default: a free one)")
    broker.set_defaults(func=_cmd_broker)

    demo = commands.add_parser(
        "demo", help="run a demo pipeline on the local broker (or KSTREAMLITE_BOOTSTRAP_SERVERS)"
    )
    demo.add_argument("--duration", type=float, default=15.0, help="seconds to run (default 15)")
    demo.add_argument("--rate", type=int, default=20, help="orders per second (default 20)")
    demo.set_defaults(func=_cmd_demo)

    describe = commands.add_parser("describe", help="print Topology.describe() of MODULE:FACTORY")
    describe.add_argument("factory", help="module:function returning a Topology")
    describe.set_defaults(func=_cmd_describe)

    run = commands.add_parser(
        "run",
        help="run the Topology of MODULE:FACTORY until Ctrl-C, or with --bounded until the "
        "source topics' current ends are processed; serves the status page and /metrics",
    )
    run.add_argument("factory", help="module:function returning a Topology")
    _add_run_flags(run)
    run.set_defaults(func=_cmd_run)

    topics = commands.add_parser(
        "topics",
        help="list the source, sink and internal topics of MODULE:FACTORY with their "
        "partition counts",
    )
    topics.add_argument("factory", help="module:function returning a Topology")
    _add_app_flags(topics)
    topics.set_defaults(func=_cmd_topics)

    reset = commands.add_parser(
        "reset",
        help="make the next run reprocess from the start: delete internal topics, reset the "
        "group's input offsets, remove local state (stop every instance first)",
    )
    _add_app_flags(reset)
    reset.add_argument(
        "--input-topics",
        default=None,
        help="comma-separated input topics to reset besides those the group has committed",
    )
    reset.add_argument(
        "--to-datetime",
        default=None,
        help="reset the inputs to the first offset at or after this ISO 8601 time "
        "(default: the earliest offset)",
    )
    reset.add_argument("--dry-run", action="store_true", help="show the plan, change nothing")
    reset.set_defaults(func=_cmd_reset)

    sql = commands.add_parser("sql", help="streaming SQL: run or explain a .sql script")
    sql_commands = sql.add_subparsers(dest="sql_command", required=True)
    sql_run = sql_commands.add_parser(
        "run", help="run the persistent queries of FILE.sql (status page and /metrics included)"
    )
    sql_run.add_argument("file", help="a script of CREATE STREAM/TABLE statements")
    _add_run_flags(sql_run)
    sql_run.set_defaults(func=_cmd_sql_run)
    explain = sql_commands.add_parser("explain", help="print the topology FILE.sql compiles to")
    explain.add_argument("file", help="a script of CREATE STREAM/TABLE statements")
    explain.set_defaults(func=_cmd_sql_explain)
    return parser


def _add_app_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--application-id", dest="application_id", default=None, help="the consumer group"
    )
    parser.add_argument(
        "--bootstrap-servers",
        dest="bootstrap_servers",
        default=None,
        help="default: KSTREAMLITE_BOOTSTRAP_SERVERS",
    )
    parser.add_argument(
        "--state-dir", dest="state_dir", default=None, help="where local state lives"
    )


def _add_run_flags(run: argparse.ArgumentParser) -> None:
    _add_app_flags(run)
    run.add_argument(
        "--processing-guarantee",
        dest="processing_guarantee",
        choices=["at_least_once", "exactly_once_v2"],
        default=None,
    )
    run.add_argument(
        "--config", default=None, help="a JSON file of StreamsConfig fields (flags win over it)"
    )
    run.add_argument(
        "--bounded",
        action="store_true",
        help="process what the source topics hold now, close all windows, print a summary, exit",
    )
    run.add_argument(
        "--keep-windows-open",
        action="store_true",
        help="with --bounded: leave windows open for a later streaming run "
        "(flush_windows_at_end=False)",
    )
    run.add_argument(
        "--metrics-port",
        dest="metrics_port",
        type=int,
        default=None,
        help="port of the status page, /health and /metrics (default: a free port, printed)",
    )
    run.add_argument(
        "--metrics-host",
        dest="metrics_host",
        default=None,
        help="address to serve them on (default 127.0.0.1 with the free port, else 0.0.0.0)",
    )
    run.add_argument("--no-status", action="store_true", help="serve no status page or metrics")


def _read_sql(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError as exc:
        raise KStreamliteError(f"cannot read SQL script {path!r}: {exc}") from exc


def _cmd_sql_explain(args: argparse.Namespace) -> int:
    from .sql import to_topology

    print(to_topology(_read_sql(args.file)).describe())
    return 0


def _cmd_sql_run(args: argparse.Namespace) -> int:
    from .sql import to_topology

    return _run_topology(to_topology(_read_sql(args.file)), args)


# Commands that run for a while log their lifecycle (start, assignment, restore, commit
# failures, shutdown) at INFO; the others only warnings.
_CHATTY = {"run", "reset", "sql"}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    quiet = logging.INFO if args.command in _CHATTY else logging.WARNING
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else quiet,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args))
    except KStreamliteError as exc:
        print(f"kstreamlite: error: {exc}", file=sys.stderr)
        return 1
    except ModuleNotFoundError as exc:
        print(f"kstreamlite: error: cannot import {exc.name!r}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
