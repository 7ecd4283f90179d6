"""The status page's data and the metrics registry, without a broker: the graph layout,
/health and /status.json of an instance that has not started, one registry per app."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from kstreamlite import KafkaStreams, State, StreamsBuilder, StreamsConfig
from kstreamlite.ops import StatusServer, layout_graph, status_snapshot
from kstreamlite.runtime.uncaught import (
    REPLACE_THREAD,
    SHUTDOWN_APPLICATION,
    SHUTDOWN_CLIENT,
    decide,
)


def _topology():
    builder = StreamsBuilder()
    stream = builder.stream("orders")
    stream.filter(lambda k, v: v["total"] > 0).group_by(lambda k, v: v["customer"]).count(
        materialized="per-customer"
    ).to_stream().to("totals")
    stream.to("audit")
    return builder.build()


def _app(**overrides):
    config = StreamsConfig(application_id="shop", bootstrap_servers="127.0.0.1:1", **overrides)
    return KafkaStreams(_topology(), config)


def test_layout_puts_each_node_below_its_parents_and_stores_beside_them():
    graph = layout_graph(_topology().graph())
    subs = graph["subtopologies"]
    assert [s["id"] for s in subs] == [0, 1]
    for sub in subs:
        at = {n["name"]: n for n in sub["nodes"]}
        for edge in sub["edges"]:
            assert at[edge["to"]]["y"] > at[edge["from"]]["y"], edge
        positions = [(n["x"], n["y"]) for n in sub["nodes"]]
        assert len(positions) == len(set(positions)), "no two nodes on one spot"
    first, second = subs
    assert [n["kind"] for n in first["nodes"]].count("source") == 1
    sinks = sorted(t for n in first["nodes"] if n["kind"] == "sink" for t in n["topics"])
    assert sinks == ["audit", "per-customer-repartition"]
    assert [s["name"] for s in second["stores"]] == ["per-customer"]
    owner = second["stores"][0]["owner"]
    assert {"from": owner, "to": "per-customer"} in second["store_edges"]
    assert second["width"] > max(n["x"] for n in second["nodes"]) + graph["node_width"]


def test_snapshot_of_an_instance_that_has_not_started():
    app = _app()
    snapshot = status_snapshot(app)
    assert snapshot["application_id"] == "shop"
    assert snapshot["state"] == "CREATED"
    assert snapshot["tasks"] == [] and snapshot["total_lag"] is None
    assert snapshot["records_per_second"] == 0
    assert len(snapshot["topology"]["subtopologies"]) == 2
    json.dumps(snapshot)  # all of it JSON-ready


def test_server_health_is_503_unless_running_and_unknown_paths_are_404():
    app = _app()
    server = StatusServer(app, 0, "127.0.0.1")
    server.start()
    try:
        with pytest.raises(urllib.error.HTTPError) as failure:
            urllib.request.urlopen(server.url + "health", timeout=5)
        assert failure.value.code == 503
        assert json.loads(failure.value.read()) == {"state": "CREATED", "healthy": False}
        app._state = State.RUNNING  # as the stream thread would set it
        with urllib.request.urlopen(server.url + "health", timeout=5) as answer:
            assert answer.status == 200
        with urllib.request.urlopen(server.url, timeout=5) as page:
            assert b"<title>kstreamlite status</title>" in page.read()
        with urllib.request.urlopen(server.url + "metrics", timeout=5) as metrics:
            assert metrics.headers["Content-Type"].startswith("text/plain")
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(server.url + "nope", timeout=5)
        assert missing.value.code == 404
    finally:
        server.stop()


def test_a_port_in_use_is_named_with_the_fix():
    app = _app()
    first = StatusServer(app, 0, "127.0.0.1")
    try:
        with pytest.raises(Exception, match=r"metrics_port \d+ on 127.0.0.1 is in use"):
            StatusServer(app, first.port, "127.0.0.1")
    finally:
        first.stop()


def test_two_apps_in_one_process_keep_separate_registries():
    one, two = _app(), _app()
    one._metrics.record_consumed("0_0", "orders", 5)
    two._metrics.record_consumed("0_0", "orders", 7)
    key = "kstreamlite_records_consumed_total{application_id=shop,task=0_0,topic=orders}"
    assert one.metrics()[key] == 5
    assert two.metrics()[key] == 7
    assert one.metrics_registry is not two.metrics_registry


def test_the_handler_decides_and_a_broken_handler_shuts_the_client():
    boom = RuntimeError("boom")
    assert decide(None, boom) is SHUTDOWN_CLIENT
    assert decide(lambda exc: REPLACE_THREAD, boom) is REPLACE_THREAD
    assert decide(lambda exc: SHUTDOWN_APPLICATION, boom) is SHUTDOWN_APPLICATION
    assert decide(lambda exc: "replace", boom) is SHUTDOWN_CLIENT

    def raising(exc):
        raise ValueError("handler bug")

    assert decide(raising, boom) is SHUTDOWN_CLIENT


def test_the_handler_is_set_before_start_and_must_be_callable():
    app = _app()
    with pytest.raises(Exception, match="must be a function"):
        app.set_uncaught_exception_handler("REPLACE_THREAD")  # type: ignore[arg-type]
    app.set_uncaught_exception_handler(lambda exc: REPLACE_THREAD)
    app.close()
    with pytest.raises(Exception, match="before start"):
        app.set_uncaught_exception_handler(lambda exc: REPLACE_THREAD)


def test_start_on_a_port_in_use_fails_before_anything_runs_and_close_still_works():
    blocker = StatusServer(_app(), 0, "127.0.0.1")
    try:
        app = _app(metrics_port=blocker.port, metrics_host="127.0.0.1")
        with pytest.raises(Exception, match="is in use"):
            app.start()
        assert app.state is State.CREATED
        assert app.close(1_000) is True
        assert app.state is State.NOT_RUNNING
    finally:
        blocker.stop()


def test_gauges_drop_the_series_of_revoked_tasks():
    app = _app()
    metrics = app._metrics
    metrics.set_gauge(metrics.watermark, {("shop", "0_0"): 5, ("shop", "0_1"): 6})
    metrics.set_gauge(metrics.watermark, {("shop", "0_1"): 7})
    shown = {k: v for k, v in app.metrics().items() if "watermark" in k}
    assert shown == {"kstreamlite_task_watermark_ms{application_id=shop,task=0_1}": 7}
    metrics.clear_gauges()
    assert not any("watermark" in k for k in app.metrics())
