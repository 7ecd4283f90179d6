"""Transactions of an exactly-once instance (``processing_guarantee="exactly_once_v2"``).

One transactional producer per instance (KIP-447): every commit is one Kafka transaction
holding the sink, repartition and changelog records written since the last commit and the
consumed offsets, sent with the consumer's group metadata so that the broker fences a
member that lost its partitions in a rebalance. Its ``transactional.id`` is stable per
state directory: an instance restarted after a crash fences (and so aborts) the
transaction its previous incarnation left open, instead of leaving read_committed
consumers stuck until the transaction times out.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
import uuid
from typing import IO, Any

from confluent_kafka import KafkaError, KafkaException, Producer, TopicPartition

from ..errors import KStreamliteError

log = logging.getLogger("kstreamlite.transactions")

PROCESS_ID_FILE = ".process-id"
INSTANCE_LOCK = ".instance.lock"


class TransactionAborted(KStreamliteError):
    """The open transaction was aborted: every task's uncommitted work must be redone."""


class TransactionFailed(KStreamliteError):
    """The producer cannot go on (fenced by another instance, or a fatal broker error)."""


class InstanceDirectory:
    """``<state_dir>/<application_id>``: the instance's stable process id, locked while it runs.

    Two running instances sharing one state directory would share a transactional id and
    fence each other for ever, so the second is refused with the fix in the message.
    """

    def __init__(self, state_dir: str, application_id: str) -> None:
        self.path = os.path.join(state_dir, application_id)
        try:
            os.makedirs(self.path, exist_ok=True)
            self._lock: IO[str] | None = open(  # noqa: SIM115 - held until close()
                os.path.join(self.path, INSTANCE_LOCK), "a+"
            )
        except OSError as exc:
            raise KStreamliteError(
                f"cannot create the state directory {self.path}: {exc}; point state_dir at a "
                "writable directory"
            ) from exc
        try:
            fcntl.flock(self._lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock.close()
            self._lock = None
            raise KStreamliteError(
                f"state directory {self.path} is in use by another running instance of "
                f"{application_id!r}; under exactly_once_v2 each instance needs its own "
                "state_dir"
            ) from None
        self.process_id = self._read_or_create_process_id()

    def _read_or_create_process_id(self) -> str:
        path = os.path.join(self.path, PROCESS_ID_FILE)
        try:
            with open(path, encoding="ascii") as f:
                value = f.read().strip()
            if value:
                return value
        except FileNotFoundError:
            pass
        except (OSError, UnicodeDecodeError) as exc:
            log.warning("unreadable process id file %s (%s); writing a new one", path, exc)
        value = uuid.uuid4().hex
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="ascii") as f:
            f.write(value)
        os.replace(tmp, path)
        return value

    def close(self) -> None:
        if self._lock is not None:
            fcntl.flock(self._lock.fileno(), fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None


class Transactions:
    """Begin, commit and abort the instance's transactions, and sort their errors.

    A commit either completes, or raises TransactionAborted after aborting (the caller
    drops its tasks' state and re-reads from the committed offsets), or raises
    TransactionFailed when the producer is unusable.
    """

    def __init__(self, producer: Producer, transactional_id: str, timeout_s: float) -> None:
        self._producer = producer
        self.transactional_id = transactional_id
        self._timeout = timeout_s
        self.commits = 0
        self.aborts = 0

    def start(self) -> None:
        """Fence earlier producers with our id (aborting what they left open), then begin."""
        try:
            self._producer.init_transactions(self._timeout)
        except KafkaException as exc:
            raise TransactionFailed(
                f"could not initialise transactions for transactional.id "
                f"{self.transactional_id!r}: {exc.args[0]}; exactly_once_v2 needs a broker "
                "with transactions enabled (Kafka 2.5+ with a reachable transaction "
                "coordinator; transaction.state.log.replication.factor must not exceed the "
                "number of brokers)"
            ) from exc
        self._producer.begin_transaction()

    def commit(self, offsets: list[TopicPartition], group_metadata: Any) -> None:
        """Commit everything sent since the last commit together with ``offsets``."""
        deadline = time.monotonic() + self._timeout
        step = "send_offsets_to_transaction"
        try:
            if offsets:
                self._retrying(
                    lambda left: self._producer.send_offsets_to_transaction(
                        offsets, group_metadata, left
                    ),
                    deadline,
                )
            step = "commit_transaction"
            self._retrying(lambda left: self._producer.commit_transaction(left), deadline)
        except KafkaException as exc:
            error: KafkaError = exc.args[0]
            if error.fatal():
                raise TransactionFailed(
                    f"{step} failed fatally for transactional.id {self.transactional_id!r}: "
                    f"{error}; another producer with this id took over (is a second instance "
                    "using this state_dir?) or the broker refused the transaction"
                ) from exc
            self.abort(f"{step} failed: {error}")
            raise TransactionAborted(f"transaction aborted: {step} failed: {error}") from exc
        self.commits += 1
        self._producer.begin_transaction()

    def _retrying(self, call: Any, deadline: float) -> None:
        while True:
            left = deadline - time.monotonic()
            try:
                call(max(left, 0.1))
                return
            except KafkaException as exc:
                error: KafkaError = exc.args[0]
                if not error.retriable() or time.monotonic() >= deadline:
                    if error.code() == KafkaError._TIMED_OUT:
                        log.error(
                            "transaction of %s timed out after %.0f s; raise "
                            "transaction.timeout.ms (producer_config) if commits are slow",
                            self.transactional_id,
                            self._timeout,
                        )
                    raise
                log.warning("transaction step failed, retrying: %s", error)

    def abort(self, reason: str) -> None:
        """Abort the open transaction and begin a new one; raises TransactionFailed if fatal."""
        log.warning(
            "aborting the transaction of %s (%s); its tasks go back to the last commit",
            self.transactional_id,
            reason,
        )
        self.aborts += 1
        try:
            self._producer.abort_transaction(self._timeout)
        except KafkaException as exc:
            raise TransactionFailed(
                f"could not abort the transaction of {self.transactional_id!r}: {exc.args[0]}"
            ) from exc
        self._producer.begin_transaction()
