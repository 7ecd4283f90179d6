"""The ``kstreamlite`` command: a local broker, a demo pipeline, and topology description."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import signal
import sys
import threading
from collections.abc import Sequence

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
    from .topology import Topology

    topology = _load_factory(args.factory)
    if not isinstance(topology, Topology):
        raise KStreamliteError(f"{args.factory} returned {type(topology).__name__}, not a Topology")
    print(topology.describe())
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


if __name__ == "__main__":
    sys.exit(main())
