"""One instance of the crash test's application, run as its own process so the harness can
SIGKILL it (nothing of close() runs) or SIGTERM it (run() closes cleanly):

    python -m tests.system.crash_instance --bootstrap-servers H:P --run-id ID \
        --state-dir DIR --guarantee at_least_once
"""

from __future__ import annotations

import argparse
import logging
import sys

from kstreamlite import KafkaStreams, StreamsConfig

from .workload import Topics, build_topology

# A group join takes about session.timeout.ms / 2 on Tansu (BROKER-NOTES.md 3); a killed
# member is noticed after session.timeout.ms.
SESSION = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 1000}


def application_id(run_id: str) -> str:
    return f"crash-{run_id}"


def make_config(
    run_id: str, bootstrap_servers: str, state_dir: str, guarantee: str, commit_interval_ms: int
) -> StreamsConfig:
    """The configuration every instance of a run shares (the harness uses it to pre-check)."""
    return StreamsConfig(
        application_id=application_id(run_id),
        bootstrap_servers=bootstrap_servers,
        processing_guarantee=guarantee,
        state_dir=state_dir,
        commit_interval_ms=commit_interval_ms,
        consumer_config=dict(SESSION),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bootstrap-servers", required=True)
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--guarantee", default="at_least_once")
    parser.add_argument("--commit-interval-ms", type=int, default=200)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"
    )
    config = make_config(
        args.run_id,
        args.bootstrap_servers,
        args.state_dir,
        args.guarantee,
        args.commit_interval_ms,
    )
    KafkaStreams(build_topology(Topics.for_run(args.run_id)), config).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
