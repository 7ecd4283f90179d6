"""The ``kstreamlite`` command: a local broker, a demo pipeline, running and describing a
topology."""

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

    from .config import StreamsConfig

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
    for name in ("application_id", "bootstrap_servers", "state_dir", "processing_guarantee"):
        value = getattr(args, name)
        if value is not None:
            settings[name] = value
    if args.keep_windows_open:
        settings["flush_windows_at_end"] = False
    try:
        return StreamsConfig(**settings)
    except ValueError as exc:  # pydantic's ValidationError names each field
        raise KStreamliteError(f"invalid configuration: {exc}") from exc


def _cmd_run(args: argparse.Namespace) -> int:
    from .runtime.streams import KafkaStreams

    topology = _load_topology(args.factory)
    app = KafkaStreams(topology, _run_config(args))
    summary = app.run(bounded=args.bounded)
    if summary is not None:
        print(summary, flush=True)
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
        "source topics' current ends are processed",
    )
    run.add_argument("factory", help="module:function returning a Topology")
    run.add_argument("--application-id", dest="application_id", default=None)
    run.add_argument("--bootstrap-servers", dest="bootstrap_servers", default=None)
    run.add_argument("--state-dir", dest="state_dir", default=None)
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
    run.set_defaults(func=_cmd_run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
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
