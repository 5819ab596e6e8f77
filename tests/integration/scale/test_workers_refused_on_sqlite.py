"""More than one worker needs PostgreSQL: SQLite refuses with a code and exit 2."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tradeguard.cli.app import app


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["run", "--workers", "2", "--port", "0"], {}),
        (["run", "--port", "0"], {"TRADEGUARD_WORKERS": "3"}),
    ],
)
def test_several_workers_on_sqlite_are_refused_before_anything_starts(tmp_path, args, env):
    database = tmp_path / "t.db"
    result = CliRunner().invoke(
        app, args, env={"TRADEGUARD_DATABASE_URL": f"sqlite:///{database}", **env}
    )
    assert result.exit_code == 2
    line = json.loads(result.output.strip().splitlines()[-1])
    assert line["error"] == "WORKERS_UNSUPPORTED"
    assert not database.exists()  # refused before the database was opened
