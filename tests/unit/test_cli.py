"""The kstreamlite command: run's configuration (environment < --config file < flags),
its errors, and describe."""

from __future__ import annotations

import json

import pytest

from kstreamlite import StreamsBuilder
from kstreamlite.cli import _run_config, build_parser, main


def topology():
    builder = StreamsBuilder()
    builder.stream("in").to("out")
    return builder.build()


def args(*argv: str):
    return build_parser().parse_args(["run", "tests.unit.test_cli:topology", *argv])


def test_flags_win_over_the_file_which_wins_over_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("KSTREAMLITE_STATE_DIR", "/from-env")
    monkeypatch.setenv("KSTREAMLITE_POLL_BATCH_SIZE", "7")
    config_file = tmp_path / "app.json"
    config_file.write_text(json.dumps({"application_id": "file", "state_dir": "/from-file"}))
    config = _run_config(args("--config", str(config_file), "--application-id", "flag"))
    assert config.application_id == "flag"
    assert config.state_dir == "/from-file"
    assert config.poll_batch_size == 7
    assert config.flush_windows_at_end is True
    assert (
        _run_config(args("--application-id", "x", "--keep-windows-open")).flush_windows_at_end
        is False
    )


def test_bad_config_files_are_named(tmp_path, capsys):
    broken = tmp_path / "broken.json"
    broken.write_text("{nope")
    assert main(["run", "tests.unit.test_cli:topology", "--config", str(broken)]) == 1
    assert "broken.json" in capsys.readouterr().err
    assert main(["run", "tests.unit.test_cli:topology", "--config", str(tmp_path / "x")]) == 1
    assert "cannot read --config" in capsys.readouterr().err


def test_missing_application_id_is_a_clear_error(capsys, monkeypatch):
    monkeypatch.delenv("KSTREAMLITE_APPLICATION_ID", raising=False)
    assert main(["run", "tests.unit.test_cli:topology", "--bootstrap-servers", "x:1"]) == 1
    assert "application_id" in capsys.readouterr().err


def test_unknown_module_and_factory(capsys):
    assert main(["run", "no_such_module_here:build"]) == 1
    assert "no_such_module_here" in capsys.readouterr().err
    assert main(["describe", "tests.unit.test_cli:nothing"]) == 1
    assert "has no attribute 'nothing'" in capsys.readouterr().err


def test_describe_prints_the_topology(capsys):
    assert main(["describe", "tests.unit.test_cli:topology"]) == 0
    assert "Sub-topology: 0" in capsys.readouterr().out


@pytest.mark.parametrize("bad", ["tests.unit.test_cli", ":topology"])
def test_factory_spec_must_be_module_colon_name(bad, capsys):
    assert main(["describe", bad]) == 1
    assert "MODULE:FACTORY" in capsys.readouterr().err


# ---- the status page on run, sql explain, reset's argument checks ----


def test_run_serves_the_status_page_on_a_free_port_unless_told_otherwise(monkeypatch):
    monkeypatch.delenv("KSTREAMLITE_METRICS_PORT", raising=False)
    assert _run_config(args("--application-id", "a")).metrics_port == 0
    assert _run_config(args("--application-id", "a")).metrics_host == "127.0.0.1"
    assert _run_config(args("--application-id", "a", "--metrics-port", "9464")).metrics_port == 9464
    assert _run_config(args("--application-id", "a", "--no-status")).metrics_port is None
    monkeypatch.setenv("KSTREAMLITE_METRICS_PORT", "9100")
    assert _run_config(args("--application-id", "a")).metrics_port == 9100


def test_sql_explain_prints_the_compiled_topology(capsys):
    assert main(["sql", "explain", "examples/temperature/fire_alerts.sql"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Topologies:")
    assert "(topics: [sensor-readings])" in out
    assert "(topic: fire-alerts)" in out


def test_sql_errors_show_the_line_and_a_caret(tmp_path, capsys):
    script = tmp_path / "bad.sql"
    script.write_text("CREATE STREAM s (id VARCHAR KEY) WITH (KAFKA_TOPIC='t');\nSELEC 1;\n")
    assert main(["sql", "explain", str(script)]) == 1
    err = capsys.readouterr().err
    assert "line 2" in err and "SELEC 1;" in err and "^" in err
    assert main(["sql", "explain", str(tmp_path / "missing.sql")]) == 1
    assert "cannot read SQL script" in capsys.readouterr().err


def test_reset_refuses_a_time_that_is_not_iso_8601(capsys):
    argv = ["reset", "--application-id", "a", "--bootstrap-servers", "127.0.0.1:1"]
    assert main([*argv, "--to-datetime", "yesterday"]) == 1
    assert "--to-datetime 'yesterday' is not an ISO 8601 time" in capsys.readouterr().err


def test_reset_and_topics_name_the_missing_application_id(capsys, monkeypatch):
    monkeypatch.delenv("KSTREAMLITE_APPLICATION_ID", raising=False)
    assert main(["reset", "--bootstrap-servers", "127.0.0.1:1"]) == 1
    assert "--application-id is required" in capsys.readouterr().err
