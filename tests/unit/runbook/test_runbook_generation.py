"""The runbook is generated from the running code and names only commands the CLI really has."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tradeguard.cli.app import app, root_command
from tradeguard.codes import ALL_CODES, CODE_INFO, PolicyReasonCode
from tradeguard.runbook import (
    RunbookError,
    extract_blocks,
    find_commands,
    generate_runbook,
    validate_argv,
)
from tradeguard.runbook.tables import (
    RECOMMENDED_LIVE,
    REQUIRED_LIVE,
    env_name,
    is_secret,
    live_requirements,
)
from tradeguard.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
RUNBOOK = ROOT / "docs" / "RUNBOOK_LIVE.md"
REGENERATE = "tradeguard runbook generate --out docs/RUNBOOK_LIVE.md"


@pytest.fixture(scope="module")
def generated() -> str:
    return generate_runbook(root_command())


def table_rows(markdown: str, heading: str) -> list[list[str]]:
    """The rows of the first table after ``heading``, as stripped cells."""
    section = markdown.split(heading, 1)[1]
    rows, started = [], False
    for line in section.splitlines():
        if line.startswith("|"):
            started = True
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
            if not set("".join(cells)) <= {"-"}:
                rows.append(cells)
        elif started:
            break
    return rows[1:]


def test_committed_runbook_equals_the_generated_one(generated):
    committed = RUNBOOK.read_text(encoding="utf-8")
    assert committed == generated, f"docs/RUNBOOK_LIVE.md is stale: run `{REGENERATE}`"


def test_every_code_of_codes_py_is_in_the_reference_tables_with_meaning_and_action(generated):
    rows = table_rows(generated, "### Policy reason codes") + table_rows(
        generated, "### Error, condition and event codes"
    )
    by_code = {row[0].strip("`"): row for row in rows}
    assert sorted(by_code) == sorted(ALL_CODES)
    for code in ALL_CODES:
        _, meaning, action = by_code[code]
        assert meaning == " ".join(CODE_INFO[code].meaning.split()).replace("|", "\\|")
        assert action == " ".join(CODE_INFO[code].action.split()).replace("|", "\\|")


def test_reason_codes_come_first_in_their_own_table(generated):
    rows = table_rows(generated, "### Policy reason codes")
    assert [r[0].strip("`") for r in rows] == [c.value for c in PolicyReasonCode]


def test_every_setting_is_in_the_environment_table_with_its_secret_flag(generated):
    rows = table_rows(generated, "## 2. Environment variables and secrets")
    by_name = {row[0].strip("`"): row for row in rows}
    assert sorted(by_name) == sorted(env_name(n) for n in Settings.model_fields)
    for name, field in Settings.model_fields.items():
        _, required, secret, default, meaning, verify = by_name[env_name(name)]
        assert required in ("yes", "no", REQUIRED_LIVE, RECOMMENDED_LIVE, "in LIVE: keep true")
        assert secret == ("yes" if is_secret(field) else "no")
        assert meaning and verify
        if is_secret(field):
            assert default in ("`(unset)`", "`(hidden)`")


def test_spec_fixed_variables_are_documented(generated):
    for variable in (
        "TRADEGUARD_DATABASE_URL",
        "TRADEGUARD_EXECUTION_MODE",
        "TRADEGUARD_EXCHANGE",
        "TRADEGUARD_EXCHANGE_BASE_URL",
        "TRADEGUARD_EXCHANGE_API_KEY",
        "TRADEGUARD_EXCHANGE_API_SECRET",
        "TRADEGUARD_WEBHOOK_SECRET",
        "TRADEGUARD_OPERATOR_TOKEN",
        "TRADEGUARD_HOST",
        "TRADEGUARD_PORT",
        "TRADEGUARD_POLICY_ENABLED",
        "TRADEGUARD_BUDGET_REPORT",
        "TRADEGUARD_EVENT_FEED_URL",
        "TRADEGUARD_MAX_CLOCK_DRIFT_MS",
        "TRADEGUARD_LATCH_RESET_WINDOW_SECONDS",
        "TRADEGUARD_CONFIG",
    ):
        assert f"| `{variable}` |" in generated


def test_live_requirements_are_read_from_the_code_that_refuses_live():
    required = live_requirements()
    assert required["operator_token"] == REQUIRED_LIVE
    assert required["exchange"] == REQUIRED_LIVE
    assert required["policy_enabled"] == "in LIVE: keep true"
    assert required["budget_report"] == RECOMMENDED_LIVE
    assert required["event_feed_url"] == RECOMMENDED_LIVE
    assert "port" not in required


def test_every_command_in_the_committed_runbook_resolves_in_the_cli():
    root = root_command()
    commands = find_commands(RUNBOOK.read_text(encoding="utf-8"))
    for command in commands:
        validate_argv(root, command.argv, strict=command.strict)
    paths = {c.argv[:2] for c in commands if c.strict}
    for path in (("kill", "on"), ("kill", "off"), ("latch", "reset"), ("audit", "export")):
        assert path in paths


def test_every_spec_command_is_in_the_command_reference(generated):
    for path in (
        "run",
        "status",
        "kill",
        "latch reset",
        "evaluate",
        "signal send",
        "audit verify",
        "audit checkpoint",
        "audit export",
        "time check",
        "scenarios run",
        "runbook generate",
        "exchange-sim",
        "db upgrade",
    ):
        assert f"### `tradeguard {path}`" in generated


def test_runnable_blocks_say_their_exit_code_visibly(generated):
    lines = generated.splitlines()
    runnable = [b for b in extract_blocks(generated) if b.runnable]
    assert len(runnable) >= 10
    for block in runnable:
        note = lines[block.line_number - 3]
        assert note.startswith(f"*Each command below exits {block.expected_exit};")


def test_generation_refuses_a_command_the_cli_does_not_have():
    with pytest.raises(RunbookError, match="launch"):
        generate_runbook(root_command(), template="```bash\ntradeguard launch rockets\n```\n")


def test_generation_refuses_an_option_the_command_does_not_have():
    with pytest.raises(RunbookError, match="--force"):
        generate_runbook(root_command(), template="Run `tradeguard kill on --force` now.\n")


def test_generation_refuses_an_unknown_variable():
    with pytest.raises(RunbookError, match="TRADEGUARD_MAX_CLOCK_DRIFT_SECONDS"):
        generate_runbook(root_command(), template="Set TRADEGUARD_MAX_CLOCK_DRIFT_SECONDS.\n")


def test_generation_refuses_an_unknown_placeholder():
    with pytest.raises(RunbookError, match="nonsense"):
        generate_runbook(root_command(), template="{{ nonsense }}\n")


def test_generation_does_not_depend_on_the_environment(generated, monkeypatch):
    monkeypatch.setenv("TRADEGUARD_MAX_CLOCK_DRIFT_MS", "5")
    monkeypatch.setenv("TRADEGUARD_DATABASE_URL", "sqlite:///elsewhere.db")
    monkeypatch.setenv("TRADEGUARD_OPERATOR_TOKEN", "do-not-print-me")
    again = generate_runbook(root_command())
    assert again == generated
    assert "do-not-print-me" not in again


def test_cli_generate_prints_the_runbook_on_stdout(generated):
    result = CliRunner().invoke(app, ["runbook", "generate"])
    assert result.exit_code == 0
    assert result.stdout == generated


def test_cli_generate_writes_the_file(generated, tmp_path):
    out = tmp_path / "RUNBOOK_LIVE.md"
    result = CliRunner().invoke(app, ["runbook", "generate", "--out", str(out)])
    assert result.exit_code == 0
    assert out.read_text(encoding="utf-8") == generated


def test_cli_generate_into_a_missing_directory_exits_2_naming_the_code(tmp_path):
    out = tmp_path / "no" / "such" / "dir" / "RUNBOOK.md"
    result = CliRunner().invoke(app, ["runbook", "generate", "--out", str(out)])
    assert result.exit_code == 2
    assert "INPUT_INVALID_VALUE" in result.stderr
