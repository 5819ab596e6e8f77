"""Every example of docs/integrations.md runs as written against `tradeguard run` + the simulator.

Blocks are found per section (``## `` heading) and language: ``python`` runs with this
interpreter, ``bash`` with ``bash -euo pipefail``, and the TradingView ``json`` message is
filled in the way TradingView fills its placeholders and posted to the webhook.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_service_e2e import SECRET, TRADEGUARD, _env, _free_port
from tradeguard.exchange.simulator import ExchangeSimulator

DOC = Path(__file__).resolve().parents[2] / "docs" / "integrations.md"
PASSPHRASE = "doc-passphrase"
_SECTION = re.compile(r"^## (.+)$", re.M)
_BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.M | re.S)


def blocks() -> list[tuple[str, str, str]]:
    """(section, language, code) of every fenced block with a language."""
    text = DOC.read_text(encoding="utf-8")
    heads = [(m.start(), m.group(1)) for m in _SECTION.finditer(text)]
    found = []
    for match in _BLOCK.finditer(text):
        section = next((name for start, name in reversed(heads) if start < match.start()), "")
        found.append((section, match.group(1), match.group(2)))
    return found


BLOCKS = blocks()
SECTIONS = ("ccxt", "TradingView alerts", "Plain HTTP (curl)")
"""The sections this file runs (another section brings its own test)."""
RUNNABLE = [b for b in BLOCKS if b[0] in SECTIONS and b[1] in ("python", "bash")]


def test_the_doc_has_the_sections_and_examples_it_promises():
    sections = {section for section, _, _ in BLOCKS}
    assert set(SECTIONS) <= sections
    assert len(RUNNABLE) >= 4


@pytest.fixture(scope="module")
def environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    tmp_path = tmp_path_factory.mktemp("integrations-doc")
    port = _free_port()
    env = _env(tmp_path, port)
    env["TRADEGUARD_WEBHOOK_PASSPHRASE"] = PASSPHRASE
    log = (tmp_path / "service.log").open("w")
    process = subprocess.Popen([TRADEGUARD, "run"], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        with ExchangeSimulator() as simulator:
            deadline = time.monotonic() + 30
            while not _healthy(base):
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail((tmp_path / "service.log").read_text())
                time.sleep(0.1)
            yield {
                "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
                "HOME": str(tmp_path),
                "GUARD_URL": base,
                "TRADEGUARD_WEBHOOK_SECRET": SECRET,
                "TRADEGUARD_WEBHOOK_PASSPHRASE": PASSPHRASE,
                "EXCHANGE_API_KEY": simulator.api_key,
                "EXCHANGE_API_SECRET": simulator.api_secret,
                "EXCHANGE_SIM_URL": simulator.base_url,
            }
    finally:
        process.terminate()
        process.wait(10)
        log.close()


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=0.5).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.parametrize(
    ("section", "language", "code"),
    RUNNABLE,
    ids=lambda value: value if value in ("python", "bash") else None,
)
def test_the_example_runs_as_written(
    environment: dict[str, str], section: str, language: str, code: str
) -> None:
    command = (
        [sys.executable, "-c", code]
        if language == "python"
        else ["bash", "-euo", "pipefail", "-c", code]
    )
    result = subprocess.run(
        command, env=environment, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, f"{section}:\n{result.stdout}\n{result.stderr[-3000:]}"
    assert "refused" not in result.stdout, result.stdout
    if section == "ccxt":
        assert ("placed" in result.stdout and "closed" in result.stdout) or (
            "resting" in result.stdout and "cancelled" in result.stdout
        ), result.stdout


def test_the_tradingview_message_is_accepted_once_tradingview_fills_it(
    environment: dict[str, str],
) -> None:
    (message,) = [code for section, lang, code in BLOCKS if lang == "json" and "Trading" in section]
    filled = (
        message.replace("{{strategy.order.id}}", "long-1")
        .replace("{{timenow}}", str(time.time_ns()))
        .replace("{{ticker}}", "BTCUSDT")
        .replace("{{strategy.order.contracts}}", "0.001")
        .replace("{{strategy.order.comment}}", "breakout")
        .replace("<your TRADEGUARD_WEBHOOK_PASSPHRASE>", PASSPHRASE)
    )
    response = httpx.post(
        environment["GUARD_URL"] + "/v1/signals",
        content=filled.encode(),
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "EXECUTED"
    assert PASSPHRASE not in response.text
    assert json.loads(filled)["source"] == "tradingview"
