"""The status endpoint of a running instance (``StreamsConfig.metrics_port``), checked where
people look: the HTML status page in a real headless Chromium (what it shows, that it
refreshes live, that it says so when the instance goes away), and ``/health`` and
``/metrics`` over plain HTTP as a load balancer or Prometheus sees them.

The browser test needs Debian's ``chromium`` and ``chromium-driver`` (no driver download);
without them it skips, unless ``CI_REQUIRE_BROWSER=1`` (set by ``.ci/run`` once it has
installed them), where it fails instead."""

from __future__ import annotations

import os
import re
import shutil
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from kstreamlite import KafkaStreams, State, StreamsBuilder, serdes

from .kafka_helpers import (
    KafkaHelper,
    close_all,
    default_partition,
    failed,
    start_app,
    streams_config,
    wait_running,
    wait_until,
)

pytestmark = pytest.mark.integration

PARTITIONS = 2
KEYS = [f"user-{i:02d}" for i in range(12)]
STORE = "counts"
PAGE_WAIT = 20  # seconds for the page (refreshing every second) to show a change
INSTALL_HINT = "install them with: sudo apt-get install chromium chromium-driver"


def _batch(start: int, stop: int) -> list[tuple[str, dict[str, Any]]]:
    return [(KEYS[i % len(KEYS)], {"click": i}) for i in range(start, stop)]


def _counts(*batches: list[tuple[str, dict[str, Any]]]) -> dict[str, int]:
    return dict(Counter(key for batch in batches for key, _ in batch))


def _per_partition(*batches: list[tuple[str, dict[str, Any]]]) -> dict[int, int]:
    """Records per input partition (produced with the Java client's partitioner)."""
    counts = dict.fromkeys(range(PARTITIONS), 0)
    for batch in batches:
        for key, _ in batch:
            counts[default_partition(key.encode(), PARTITIONS)] += 1
    return counts


def _count_topology(source: str, sink: str) -> Any:
    builder = StreamsBuilder()
    builder.stream(source).group_by_key().count(materialized=STORE).to_stream().to(sink)
    return builder.build()


def _config(app_id: str, bootstrap_servers: str, state_dir: Path) -> Any:
    return streams_config(
        app_id, bootstrap_servers, state_dir, metrics_port=0, metrics_host="127.0.0.1"
    )


def _produce(kafka: KafkaHelper, topic: str, batch: list[tuple[str, dict[str, Any]]]) -> None:
    kafka.produce(topic, batch, partitioner="murmur2_random")
    assert all(_per_partition(batch).values()), "every partition should get records"


def _assert_counts(kafka: KafkaHelper, sink: str, expected: dict[str, int], app: Any) -> None:
    latest = kafka.latest_by_key(
        sink,
        expected,
        timeout=30,
        settle=0.3,
        abort_if=lambda: failed(app),
        decode=serdes.LONG.deserialize,
    )
    assert latest == expected


def _positions_reached(app: KafkaStreams, expected: dict[int, int]) -> bool:
    """Every input partition's position (next offset) and lag as the page will show them."""
    got = {
        p["partition"]: (p["position"], p["lag"])
        for task in app.task_snapshot()
        for p in task["partitions"]
    }
    return got == {p: (n, 0) for p, n in expected.items()}


def _get(url: str) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of a GET; error statuses are answers too."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), error.read()


def _processed_by_task(metrics_text: str, app_id: str) -> dict[str, float]:
    """kstreamlite_records_processed_total per task, parsed as Prometheus parses it."""
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.name == "kstreamlite_records_processed_total":
                assert sample.labels["application_id"] == app_id, sample
                out[sample.labels["task"]] = sample.value
    return out


# ---- the browser ---------------------------------------------------------------------------


def _missing(reason: str) -> None:
    if os.environ.get("CI_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason}; CI_REQUIRE_BROWSER=1 requires the browser test to run")
    pytest.skip(f"{reason}; {INSTALL_HINT} (the status-page browser test needs them)")


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    """Headless Chromium driven by Debian's chromedriver (never Selenium Manager)."""
    chromium = shutil.which("chromium")
    chromedriver = shutil.which("chromedriver")
    if chromium is None or chromedriver is None:
        _missing("chromium or chromedriver is not installed")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _missing('selenium is not installed (pip install -e ".[dev]")')
    options = webdriver.ChromeOptions()
    options.binary_location = str(chromium)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1280,900",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=str(chromedriver)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _text(driver: Any, css: str) -> str:
    return str(driver.find_element("css selector", css).text)


def _wait_for(driver: Any, condition: Any, what: str) -> Any:
    """Wait for the page, failing with what it showed instead."""
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(
            driver,
            PAGE_WAIT,
            poll_frequency=0.1,
            ignored_exceptions=[StaleElementReferenceException],
        ).until(condition)
    except TimeoutException:
        header = _text(driver, "header")
        tasks = _text(driver, "#tasks")
        raise AssertionError(
            f"the page did not show {what} within {PAGE_WAIT} s; header: {header!r}; "
            f"tasks: {tasks!r}"
        ) from None


def _partition_cells(driver: Any) -> dict[str, str]:
    """Task id -> the text of its partitions cell, as the tasks table shows them."""
    return {
        row.get_attribute("data-task"): row.find_element("css selector", "td.partitions").text
        for row in driver.find_elements("css selector", "#tasks tbody tr[data-task]")
    }


def _expected_cells(source: str, positions: dict[int, int]) -> dict[str, str]:
    return {f"0_{p}": f"{source}-{p} ({n}, lag 0)" for p, n in positions.items()}


def test_status_page_in_a_browser(
    kafka: KafkaHelper, bootstrap_servers: str, unique: str, tmp_path: Path, browser: Any
) -> None:
    source = kafka.create_topic(f"sp-in-{unique}", partitions=PARTITIONS)
    sink = kafka.create_topic(f"sp-out-{unique}", partitions=PARTITIONS)
    app_id = f"sp-{unique}"
    batch1, batch2 = _batch(0, 120), _batch(120, 200)
    _produce(kafka, source, batch1)
    topology = _count_topology(source, sink)
    graph = topology.graph()["subtopologies"]
    assert len(graph) == 1
    source_node = next(n["name"] for n in graph[0]["nodes"] if source in n["topics"])
    sink_node = next(n["name"] for n in graph[0]["nodes"] if n["kind"] == "sink")

    app = start_app(topology, _config(app_id, bootstrap_servers, tmp_path / "state"))
    try:
        wait_running(app)
        _assert_counts(kafka, sink, _counts(batch1), app)
        wait_until(
            lambda: _positions_reached(app, _per_partition(batch1)),
            what="positions and lag of batch 1 in the task snapshot",
            abort_if=lambda: failed(app),
        )
        url = app.status_url
        assert url is not None and url.startswith("http://127.0.0.1:"), url

        browser.get(url)
        _wait_for(browser, lambda d: _text(d, "#state") == "RUNNING", "state RUNNING")
        expected = _expected_cells(source, _per_partition(batch1))
        _wait_for(browser, lambda d: _partition_cells(d) == expected, f"task rows {expected}")

        # -- the header: what instance this is and how it is doing --
        assert _text(browser, "#app-id") == app_id
        state = browser.find_element("css selector", "#state")
        assert state.get_attribute("class").split() == ["state", "RUNNING"]
        assert state.is_displayed()
        assert browser.title == f"{app_id} · RUNNING · kstreamlite"
        assert _text(browser, "#task-count") == str(PARTITIONS)
        _wait_for(browser, lambda d: _text(d, "#lag") == "0", "total lag 0")
        assert re.fullmatch(r"\d+\.\d", _text(browser, "#rate")), _text(browser, "#rate")
        assert re.fullmatch(r"(\d+h )?(\d+m )?\d+s", _text(browser, "#uptime"))
        assert _text(browser, "#refreshed").startswith("refreshed ")
        assert not browser.find_element("css selector", "#error").is_displayed()

        # -- the tasks table: one row per task with its partition, watermark, rate, store --
        rows = browser.find_elements("css selector", "#tasks tbody tr[data-task]")
        assert [row.get_attribute("data-task") for row in rows] == ["0_0", "0_1"]
        for row in rows:
            cells = [cell.text for cell in row.find_elements("css selector", "td")]
            assert cells[0] == row.get_attribute("data-task")
            assert cells[1] == "running"
            assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{3})?Z", cells[3]), cells
            assert re.fullmatch(r"\d+\.\d", cells[4]), cells
            assert cells[5] == STORE

        # -- the topology: source (named for the input topic), the store, a sink --
        svg = browser.find_element("css selector", "#topology svg[data-subtopology='0']")
        assert svg.is_displayed()
        assert "Sub-topology 0" in _text(browser, "#topology")
        node = svg.find_element("css selector", f"g.node.source[data-name='{source_node}']")
        assert node.is_displayed()
        assert node.find_element("css selector", "text.topic").text == f"reads {source}"
        hover = node.find_element("css selector", "title").get_attribute("textContent")
        assert hover == f"source: {source_node} ({source})"
        store = svg.find_element("css selector", f"g.store[data-name='{STORE}']")
        assert store.is_displayed() and STORE in store.text
        sinks = svg.find_elements("css selector", "g.node.sink")
        assert [s.get_attribute("data-name") for s in sinks] == [sink_node]
        assert sinks[0].is_displayed()
        assert sinks[0].find_element("css selector", "text.topic").text == f"writes {sink}"
        hover = sinks[0].find_element("css selector", "title").get_attribute("textContent")
        assert hover == f"sink: {sink_node} ({sink})"
        assert len(svg.find_elements("css selector", "g.node.processor")) == 2
        browser.save_screenshot(str(tmp_path / "status_page.png"))

        # -- live: more records move the positions on the open page, without a reload --
        browser.execute_script("window.kstreamliteTestMarker = 'same page';")
        _produce(kafka, source, batch2)
        _assert_counts(kafka, sink, _counts(batch1, batch2), app)
        expected = _expected_cells(source, _per_partition(batch1, batch2))
        _wait_for(browser, lambda d: _partition_cells(d) == expected, f"task rows {expected}")
        assert browser.execute_script("return window.kstreamliteTestMarker;") == "same page"
        assert _text(browser, "#state") == "RUNNING"
        browser.save_screenshot(str(tmp_path / "status_page_after_more_records.png"))

        # -- closed: the page says it lost the instance --
        assert app.close(30_000)
        assert app.state is State.NOT_RUNNING
        _wait_for(
            browser,
            lambda d: (
                "instance unreachable" in _text(d, "#refreshed") or _text(d, "#state") != "RUNNING"
            ),
            "the instance unreachable or not RUNNING",
        )
        _wait_for(
            browser,
            lambda d: "instance unreachable" in _text(d, "#refreshed"),
            "the instance unreachable once its endpoint stopped",
        )
        refreshed = browser.find_element("css selector", "#refreshed")
        assert "stale" in refreshed.get_attribute("class").split()
        assert _text(browser, "#state") == "UNREACHABLE"
        assert refreshed.is_displayed()
        assert browser.execute_script("return window.kstreamliteTestMarker;") == "same page"
        browser.save_screenshot(str(tmp_path / "status_page_after_close.png"))
    finally:
        close_all(app)


# ---- plain HTTP ----------------------------------------------------------------------------


def test_health_and_metrics_endpoints(
    kafka: KafkaHelper, bootstrap_servers: str, unique: str, tmp_path: Path
) -> None:
    source = kafka.create_topic(f"sp-http-in-{unique}", partitions=PARTITIONS)
    sink = kafka.create_topic(f"sp-http-out-{unique}", partitions=PARTITIONS)
    app_id = f"sp-http-{unique}"
    batch = _batch(0, 90)
    _produce(kafka, source, batch)

    app = KafkaStreams(
        _count_topology(source, sink), _config(app_id, bootstrap_servers, tmp_path / "state")
    )
    assert app.status_url is None, "nothing is served before start()"
    try:
        app.start()
        url = app.status_url
        assert url is not None

        # -- during start (joining the group, creating the changelog): up but not healthy --
        answers: list[tuple[int, dict[str, Any]]] = []

        def health_answers() -> bool:
            status, headers, body = _get(url + "health")
            assert headers["Content-Type"] == "application/json"
            answers.append((status, orjson.loads(body)))
            return answers[-1][1]["state"] == "RUNNING"

        wait_until(health_answers, what="/health to say RUNNING", abort_if=lambda: failed(app))
        assert answers[0] == (503, {"state": "REBALANCING", "healthy": False}), answers[:3]
        for status, body in answers:  # 200 exactly when RUNNING, whatever the order
            assert status == (200 if body["state"] == "RUNNING" else 503), (status, body)
            assert body["healthy"] is (status == 200)

        # -- running --
        _assert_counts(kafka, sink, _counts(batch), app)
        assert app.state is State.RUNNING
        status, _, body = _get(url + "health")
        assert (status, orjson.loads(body)) == (200, {"state": "RUNNING", "healthy": True})

        per_partition = _per_partition(batch)
        expected = {f"0_{p}": float(n) for p, n in per_partition.items()}
        seen: dict[str, float] = {}

        def processed_all() -> bool:
            nonlocal seen
            status, headers, body = _get(url + "metrics")
            assert status == 200
            assert headers["Content-Type"].startswith("text/plain"), headers
            seen = _processed_by_task(body.decode(), app_id)
            return seen == expected

        try:
            wait_until(processed_all, timeout=15, what="records processed in /metrics")
        except AssertionError as error:
            raise AssertionError(f"{error}: saw {seen}, expected {expected}") from None
        assert sum(seen.values()) == len(batch)

        status, _, _ = _get(url + "nothing-here")
        assert status == 404
    finally:
        closed = app.close(30_000)
    assert closed and app.state is State.NOT_RUNNING

    # -- closed: the endpoint is gone, so a probe sees the instance down --
    assert app.status_url is None
    with pytest.raises(urllib.error.URLError):
        _get(url + "health")
