"""Transactions sorts the producer's errors (retry, abort and redo, or stop) and
InstanceDirectory keeps one stable transactional id per state directory."""

from __future__ import annotations

import os
import stat

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from kstreamlite.errors import KStreamliteError
from kstreamlite.runtime.transactions import (
    InstanceDirectory,
    TransactionAborted,
    TransactionFailed,
    Transactions,
)

OFFSETS = [TopicPartition("in", 0, 10)]


def error(code: int = KafkaError._STATE, **flags: bool) -> KafkaException:
    return KafkaException(KafkaError(code, "boom", **flags))


class FakeProducer:
    """Records the transactional calls; ``fail[name]`` holds errors to raise, in order."""

    def __init__(self, **fail: list[KafkaException]) -> None:
        self.calls: list[str] = []
        self.fail = fail
        self.sent_offsets: list[list[TopicPartition]] = []

    def _call(self, name: str) -> None:
        self.calls.append(name)
        pending = self.fail.get(name)
        if pending:
            raise pending.pop(0)

    def init_transactions(self, timeout: float) -> None:
        self._call("init")

    def begin_transaction(self) -> None:
        self._call("begin")

    def send_offsets_to_transaction(self, offsets, metadata, timeout: float) -> None:
        self.sent_offsets.append(offsets)
        self._call("send_offsets")

    def commit_transaction(self, timeout: float) -> None:
        self._call("commit")

    def abort_transaction(self, timeout: float) -> None:
        self._call("abort")


def transactions(producer: FakeProducer) -> Transactions:
    return Transactions(producer, "app-123", timeout_s=5)  # type: ignore[arg-type]


def test_start_fences_earlier_producers_then_begins() -> None:
    producer = FakeProducer()
    transactions(producer).start()
    assert producer.calls == ["init", "begin"]


def test_start_failure_says_exactly_once_needs_transactions_on_the_broker() -> None:
    producer = FakeProducer(init=[error(KafkaError._TIMED_OUT)])
    with pytest.raises(TransactionFailed, match=r"app-123.*transactions enabled"):
        transactions(producer).start()


def test_commit_sends_offsets_commits_and_begins_the_next_transaction() -> None:
    producer = FakeProducer()
    txn = transactions(producer)
    txn.commit(OFFSETS, object())
    assert producer.calls == ["send_offsets", "commit", "begin"]
    assert producer.sent_offsets == [OFFSETS]
    assert (txn.commits, txn.aborts) == (1, 0)


def test_a_commit_without_new_offsets_still_commits_what_was_produced() -> None:
    producer = FakeProducer()
    transactions(producer).commit([], object())
    assert producer.calls == ["commit", "begin"]


def test_retriable_errors_are_retried() -> None:
    producer = FakeProducer(
        send_offsets=[error(KafkaError.COORDINATOR_LOAD_IN_PROGRESS, retriable=True)],
        commit=[error(KafkaError._TIMED_OUT, retriable=True)],
    )
    transactions(producer).commit(OFFSETS, object())
    assert producer.calls == ["send_offsets", "send_offsets", "commit", "commit", "begin"]


def test_an_abortable_error_aborts_begins_again_and_raises_aborted() -> None:
    producer = FakeProducer(
        send_offsets=[error(KafkaError.ILLEGAL_GENERATION, txn_requires_abort=True)]
    )
    txn = transactions(producer)
    with pytest.raises(TransactionAborted, match="send_offsets_to_transaction failed"):
        txn.commit(OFFSETS, object())
    assert producer.calls == ["send_offsets", "abort", "begin"]
    assert (txn.commits, txn.aborts) == (0, 1)


def test_a_fatal_error_stops_without_aborting_and_names_the_id() -> None:
    producer = FakeProducer(commit=[error(KafkaError._FENCED, fatal=True)])
    with pytest.raises(TransactionFailed, match=r"app-123.*took over"):
        transactions(producer).commit(OFFSETS, object())
    assert "abort" not in producer.calls


def test_a_failed_abort_is_a_failure() -> None:
    producer = FakeProducer(
        commit=[error(KafkaError.INVALID_TXN_STATE, txn_requires_abort=True)],
        abort=[error(KafkaError._TIMED_OUT)],
    )
    with pytest.raises(TransactionFailed, match="could not abort"):
        transactions(producer).commit(OFFSETS, object())


# ---- the instance directory ----


def test_the_process_id_is_stable_across_restarts(tmp_path) -> None:
    first = InstanceDirectory(str(tmp_path), "app")
    process_id = first.process_id
    first.close()
    again = InstanceDirectory(str(tmp_path), "app")
    try:
        assert again.process_id == process_id
        assert len(process_id) == 32
    finally:
        again.close()


def test_different_state_dirs_get_different_process_ids(tmp_path) -> None:
    a = InstanceDirectory(str(tmp_path / "a"), "app")
    b = InstanceDirectory(str(tmp_path / "b"), "app")
    try:
        assert a.process_id != b.process_id
    finally:
        a.close()
        b.close()


def test_a_second_instance_on_the_same_state_dir_is_refused_with_the_fix(tmp_path) -> None:
    first = InstanceDirectory(str(tmp_path), "app")
    try:
        with pytest.raises(KStreamliteError, match="its own state_dir"):
            InstanceDirectory(str(tmp_path), "app")
    finally:
        first.close()
    InstanceDirectory(str(tmp_path), "app").close()  # free again once the first closed


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_an_unwritable_state_dir_names_the_directory(tmp_path) -> None:
    tmp_path.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        with pytest.raises(KStreamliteError, match="writable directory"):
            InstanceDirectory(str(tmp_path / "state"), "app")
    finally:
        tmp_path.chmod(stat.S_IRWXU)
