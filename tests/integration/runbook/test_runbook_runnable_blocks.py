"""Every block of docs/RUNBOOK_LIVE.md marked runnable runs in a DRY_RUN sandbox as documented.

The sandbox is what an operator has on a fresh machine: the installed ``tradeguard`` command,
a temporary SQLite database, a temporary working directory, and, for blocks marked
``needs=exchange``, the exchange simulator (``tradeguard exchange-sim``) on a free loopback port
with ``TRADEGUARD_EXCHANGE=valr`` pointing at it. Blocks run in document order, so the state
the runbook builds up (checkpoint files, an engaged kill switch) carries from block to block,
as it would for an operator following it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tradeguard.runbook import CommandBlock, commands_in_shell_line, extract_blocks

ROOT = Path(__file__).resolve().parents[3]
RUNBOOK = ROOT / "docs" / "RUNBOOK_LIVE.md"
BIN = Path(sys.executable).parent
COMMAND_TIMEOUT_S = 30

# The operator actions the runbook must prove, not just show.
MUST_RUN = {
    ("db", "upgrade"),
    ("kill", "on"),
    ("kill", "off"),
    ("latch", "reset"),
    ("status", "--json"),
    ("audit", "verify"),
    ("audit", "checkpoint"),
    ("audit", "export"),
    ("time", "check"),
    ("preflight", "--json"),
    ("evaluate",),
    ("runbook", "generate"),
}


def runnable_blocks() -> list[CommandBlock]:
    return [b for b in extract_blocks(RUNBOOK.read_text(encoding="utf-8")) if b.runnable]


def base_environment(workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("TRADEGUARD_")}
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}",
        HOME=str(workdir),
        OPERATOR="runbook-sandbox",
        TRADEGUARD_EXECUTION_MODE="DRY_RUN",
        TRADEGUARD_DATABASE_URL=f"sqlite:///{workdir / 'tradeguard.db'}",
    )
    return env


@pytest.fixture(scope="module")
def exchange_simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """``tradeguard exchange-sim`` on a free loopback port, as the runbook's operator runs it."""
    workdir = tmp_path_factory.mktemp("exchange-sim")
    process = subprocess.Popen(
        [str(BIN / "tradeguard"), "exchange-sim", "--host", "127.0.0.1", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=workdir,
        env=base_environment(workdir),
    )
    try:
        ready = read_ready_line(process)
        yield {
            "TRADEGUARD_EXCHANGE": "valr",
            "TRADEGUARD_EXCHANGE_BASE_URL": ready["base_url"],
            "TRADEGUARD_EXCHANGE_API_KEY": ready["valr_api_key"],
            "TRADEGUARD_EXCHANGE_API_SECRET": ready["valr_api_secret"],
        }
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def read_ready_line(process: subprocess.Popen[str]) -> dict[str, str]:
    """Skip log lines until the simulator's JSON ready line (it reports its URL and keys)."""
    assert process.stdout is not None
    for _ in range(100):
        line = process.stdout.readline()
        if not line:
            break
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(data, dict) and data.get("event") == "exchange_simulator_ready":
            return data
    process.kill()
    _, err = process.communicate(timeout=5)
    pytest.fail(f"`tradeguard exchange-sim` did not report ready: {err[-800:]}")


def run_line(line: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-o", "pipefail", "-c", line],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=COMMAND_TIMEOUT_S,
        check=False,
    )


def test_runbook_marks_the_operator_actions_as_runnable():
    proven = {
        argv
        for block in runnable_blocks()
        for line in block.lines
        for argv in commands_in_shell_line(line)
    }
    missing = [
        " ".join(("tradeguard", *need))
        for need in sorted(MUST_RUN)
        if not any(argv[: len(need)] == need or _has(argv, need) for argv in proven)
    ]
    assert not missing, f"not run by any runnable block: {missing}"


def _has(argv: tuple[str, ...], need: tuple[str, ...]) -> bool:
    # ("status", "--json") is satisfied by `status --json` anywhere in the options.
    return argv[:1] == need[:1] and all(word in argv for word in need)


def test_every_runnable_block_exits_as_documented(
    tmp_path: Path, exchange_simulator: dict[str, str]
):
    blocks = runnable_blocks()
    assert blocks, "the runbook has no runnable block"
    env = base_environment(tmp_path)
    failures = []
    for block in blocks:
        block_env = {**env, **exchange_simulator} if "exchange" in block.needs else env
        for line in block.lines:
            result = run_line(line, block_env, tmp_path)
            if result.returncode != block.expected_exit:
                failures.append(
                    f"runbook line {block.line_number}: `{line}` exited {result.returncode}, "
                    f"documented {block.expected_exit}\nstdout: {result.stdout[-800:]}\n"
                    f"stderr: {result.stderr[-800:]}"
                )
    assert not failures, "\n\n".join(failures)
