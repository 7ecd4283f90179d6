"""Record timestamps and headers through operators, repartitioning and timestamp extractors."""

from __future__ import annotations

from kstreamlite import serdes
from kstreamlite.processor import Processor
from tests.unit.helpers import driver_for


def _single_output_record(define, *, timestamp=1_234, headers=None, value=1):
    with driver_for(define) as driver:
        driver.create_input_topic("in").pipe_input("k", value, timestamp=timestamp, headers=headers)
        return driver.create_output_topic("out").read_record()


def test_the_input_timestamp_is_kept_through_stateless_operators():
    def define(b):
        (
            b.stream("in")
            .filter(lambda k, v: True)
            .map(lambda k, v: (k + "!", v + 1))
            .map_values(lambda v: v * 2)
            .flat_map_values(lambda v: [v])
            .flat_map(lambda k, v: [(k, v)])
            .select_key(lambda k, v: k + "?")
            .peek(lambda k, v: None)
            .to("out")
        )

    record = _single_output_record(define, timestamp=1_234)
    assert (record.key, record.value, record.timestamp) == ("k!?", 4, 1_234)


def test_the_input_timestamp_is_kept_through_a_repartition_topic():
    def define(b):
        b.stream("in").select_key(lambda k, v: "other").repartition(name="r").to("out")

    assert _single_output_record(define, timestamp=98_765).timestamp == 98_765


def test_every_record_of_a_flat_map_gets_the_input_timestamp():
    def define(b):
        b.stream("in").flat_map_values(lambda v: [v, v, v]).to("out")

    with driver_for(define) as driver:
        driver.create_input_topic("in").pipe_input("k", 1, timestamp=555)
        records = driver.create_output_topic("out").read_records_to_list()
    assert [r.timestamp for r in records] == [555, 555, 555]


def test_a_timestamp_extractor_sets_the_event_time_of_each_record():
    def define(b):
        b.stream("in", timestamp_extractor=lambda k, v, ts: v["event_time"]).to("out")

    record = _single_output_record(define, timestamp=1, value={"event_time": 1_700_000_000_000})
    assert record.timestamp == 1_700_000_000_000


def test_a_timestamp_extractor_receives_key_value_and_record_timestamp():
    calls = []

    def extractor(key, value, record_timestamp):
        calls.append((key, value, record_timestamp))
        return record_timestamp + 10

    def define(b):
        b.stream("in", timestamp_extractor=extractor).to("out")

    assert _single_output_record(define, timestamp=500, value=3).timestamp == 510
    assert calls == [("k", 3, 500)]


def test_an_extracted_timestamp_is_what_processors_see():
    seen = []

    class Watch(Processor):
        def process(self, record):
            seen.append(record.timestamp)

    def define(b):
        b.stream("in", timestamp_extractor=lambda k, v, ts: v * 1_000).process(Watch)

    with driver_for(define) as driver:
        driver.create_input_topic("in").pipe_value_list([3, 1, 2])
    assert seen == [3_000, 1_000, 2_000]


def test_headers_pass_through_operators_to_the_output_record():
    def define(b):
        b.stream("in").map_values(lambda v: v + 1).filter(lambda k, v: True).to("out")

    record = _single_output_record(define, headers=[("trace", b"abc"), ("n", b"\x01")])
    assert tuple(record.headers) == (("trace", b"abc"), ("n", b"\x01"))
    assert record.value == 2


def test_header_values_given_as_str_or_in_a_dict_are_stored_as_utf8_bytes():
    def define(b):
        b.stream("in").to("out")

    record = _single_output_record(define, headers={"trace": "ü1"})
    assert tuple(record.headers) == (("trace", "ü1".encode()),)


def test_headers_survive_a_repartition_topic():
    def define(b):
        b.stream("in").repartition(name="r").map_values(lambda v: v).to("out")

    record = _single_output_record(define, headers=[("trace", b"t-1")])
    assert tuple(record.headers) == (("trace", b"t-1"),)


def test_a_record_without_headers_comes_out_without_headers():
    def define(b):
        b.stream("in").to("out")

    assert tuple(_single_output_record(define).headers) == ()


def test_timestamps_and_headers_are_independent_per_record():
    def define(b):
        b.stream("in", value_serde=serdes.STRING).to("out", value_serde=serdes.STRING)

    with driver_for(define) as driver:
        inp = driver.create_input_topic("in", value_serde=serdes.STRING)
        inp.pipe_input("a", "1", timestamp=10, headers=[("h", b"1")])
        inp.pipe_input("b", "2", timestamp=5)
        records = driver.create_output_topic(
            "out", value_serde=serdes.STRING
        ).read_records_to_list()
    assert [(r.key, r.value, r.timestamp, tuple(r.headers)) for r in records] == [
        ("a", "1", 10, (("h", b"1"),)),
        ("b", "2", 5, ()),
    ]
