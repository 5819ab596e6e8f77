"""``tradeguard scenarios run``: argument handling (the scenarios themselves are integration)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from tradeguard.cli.app import app

runner = CliRunner()


def test_unknown_scenario_name_exits_2_with_a_coded_error() -> None:
    result = runner.invoke(app, ["scenarios", "run", "EXCHANGE_DOWNTIME", "meteor"])
    assert result.exit_code == 2
    line = json.loads(result.stderr.strip().splitlines()[-1])
    assert line["error"] == "INPUT_INVALID_VALUE"
    assert "meteor" in line["message"]


def test_no_scenario_and_no_all_flag_exits_2() -> None:
    result = runner.invoke(app, ["scenarios", "run"])
    assert result.exit_code == 2
    assert "--all" in result.stderr
