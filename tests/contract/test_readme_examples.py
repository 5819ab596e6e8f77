"""The README's Python examples run as written (in a temp directory with a temp database)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_readme_has_python_examples():
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index, tmp_path):
    env = {"PATH": "/usr/bin:/bin", "TRADEGUARD_DATABASE_URL": f"sqlite:///{tmp_path / 'r.db'}"}
    result = subprocess.run(
        [sys.executable, "-c", BLOCKS[index]],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    if "dispatch(" in BLOCKS[index]:
        assert "ALLOW EXECUTED ALLOW_ALL_GATES_PASSED" in result.stdout
