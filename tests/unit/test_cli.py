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
