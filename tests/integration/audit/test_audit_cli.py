"""``tradeguard audit verify|checkpoint|export`` and ``db upgrade`` as an operator runs them."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from typer.testing import CliRunner

from tests.audit_factories import decision, operator_action, order, signal
from tradeguard import open_audit_store
from tradeguard.audit.migrate import migrations
from tradeguard.cli.app import app

DOC = Path(__file__).resolve().parents[3] / "docs" / "audit-format.md"
runner = CliRunner()


@pytest.fixture
def url(tmp_path: Path) -> str:
    db = f"sqlite:///{tmp_path / 'audit.db'}"
    store = open_audit_store(db)
    store.record_many([decision(i, halt=i == 2) for i in range(5)])
    store.record_signal(signal())
    store.record_order_event(order())
    store.record_operator_action(operator_action())
    store.close()
    return db


def _key(tmp_path: Path) -> Path:
    path = tmp_path / "key.pem"
    key = Ed25519PrivateKey.generate()
    path.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    return path


def _break_row(url: str, seq: int) -> None:
    conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
    conn.execute("DROP TRIGGER policy_decision_audit_no_update")
    conn.execute(
        "UPDATE policy_decision_audit SET canonical_json = canonical_json || ' ' WHERE seq = ?",
        (seq,),
    )


def test_db_upgrade_creates_the_schema(tmp_path: Path) -> None:
    result = runner.invoke(app, ["db", "upgrade", "--database-url", f"sqlite:///{tmp_path}/n.db"])
    assert result.exit_code == 0, result.output
    tables = sqlite3.connect(tmp_path / "n.db").execute("SELECT version FROM schema_version")
    assert [row[0] for row in tables] == [m.version for m in migrations("sqlite")] == [1, 2]


def test_verify_exits_0_when_intact_and_1_naming_the_first_broken_seq(url: str) -> None:
    assert runner.invoke(app, ["audit", "verify", "--database-url", url]).exit_code == 0
    _break_row(url, 4)
    result = runner.invoke(app, ["audit", "verify", "--database-url", url])
    assert result.exit_code == 1
    assert "policy_decision_audit at seq 4 [AUD-004]" in result.output


def test_verify_uses_tradeguard_database_url_by_default(url: str) -> None:
    result = runner.invoke(app, ["audit", "verify", "--json"], env={"TRADEGUARD_DATABASE_URL": url})
    assert result.exit_code == 0 and '"rows_checked": 8' in result.output


def test_verify_of_an_unreachable_database_exits_3(tmp_path: Path) -> None:
    bad = f"sqlite:///{tmp_path}/file.txt/x.db"
    (tmp_path / "file.txt").write_text("not a directory")
    result = runner.invoke(app, ["audit", "verify", "--database-url", bad])
    assert result.exit_code == 3 and "AUD-006" in result.output


def test_signed_checkpoint_catches_tail_truncation_and_a_forged_line(
    url: str, tmp_path: Path
) -> None:
    key, out = _key(tmp_path), tmp_path / "checkpoints.jsonl"
    args = ["audit", "checkpoint", "--database-url", url, "--out", str(out), "--key", str(key)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0 and '"signature":' in result.output
    env = {"TRADEGUARD_AUDIT_CHECKPOINT_KEY": str(key)}
    verify = ["audit", "verify", "--database-url", url, "--checkpoint", str(out)]
    assert runner.invoke(app, verify, env=env).exit_code == 0
    out.write_text(out.read_text().replace('"seq":5', '"seq":4'))
    forged = runner.invoke(app, verify, env=env)
    assert forged.exit_code == 1 and "AUD-007" in forged.output


def test_checkpoint_refuses_to_anchor_a_broken_chain(url: str) -> None:
    _break_row(url, 2)
    result = runner.invoke(app, ["audit", "checkpoint", "--database-url", url])
    assert result.exit_code == 4 and "AUD-004" in result.output


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_verifies_on_its_own_and_with_the_documented_script(
    url: str, tmp_path: Path, fmt: str
) -> None:
    out = tmp_path / f"export.{fmt}"
    args = ["audit", "export", "--database-url", url, "--format", fmt, "--out", str(out)]
    assert runner.invoke(app, args).exit_code == 0
    assert runner.invoke(app, ["audit", "verify", "--file", str(out)]).exit_code == 0
    script = re.search(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert script is not None and len(script.group(1).splitlines()) <= 40
    path = tmp_path / "verify_export.py"
    path.write_text(script.group(1))
    done = subprocess.run([sys.executable, str(path), str(out)], capture_output=True, text=True)
    assert done.returncode == 0 and "INTACT" in done.stdout, done.stdout + done.stderr
    text = out.read_text(encoding="utf-8")
    out.write_text(text.replace("HALT_KILL_SWITCH", "ALLOW_KILL_SWITCH", 1), encoding="utf-8")
    again = subprocess.run([sys.executable, str(path), str(out)], capture_output=True, text=True)
    assert again.returncode == 1 and "BROKEN policy_decision_audit at seq 3" in again.stdout
    assert runner.invoke(app, ["audit", "verify", "--file", str(out)]).exit_code == 1


def test_export_window_is_a_contiguous_chain(url: str, tmp_path: Path) -> None:
    out = tmp_path / "window.jsonl"
    args = ["audit", "export", "--database-url", url, "--format", "jsonl", "--out", str(out)]
    window = ["--since", "2026-03-01T12:00:01.000000Z", "--until", "2026-03-01T12:00:03Z"]
    result = runner.invoke(app, args + window)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["table"], r["seq"]) for r in rows] == [
        ("policy_decision_audit", s) for s in (2, 3, 4)
    ]
    assert runner.invoke(app, ["audit", "verify", "--file", str(out)]).exit_code == 0
