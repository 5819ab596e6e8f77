"""Where the tests find freqtrade (its own venv, built by `make venv-freqtrade`) and the guide."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FREQTRADE_BIN = ROOT / ".venv-freqtrade" / "bin"
DOCS = ROOT / "docs"


def freqtrade_bin_or_skip(program: str = "freqtrade") -> Path:
    """Return a program of the freqtrade venv; skip loudly without it (fail in CI)."""
    path = FREQTRADE_BIN / program
    if path.exists():
        return path
    message = f"freqtrade is not installed at {FREQTRADE_BIN}; run `make venv-freqtrade`"
    if os.environ.get("TRADEGUARD_REQUIRE_FREQTRADE") == "1" or os.environ.get("CI") == "true":
        pytest.fail("freqtrade is required here (CI) but " + message)
    pytest.skip("SKIPPED LOUDLY: " + message)


def freqtrade_guide() -> str:
    """The `## freqtrade` section of the integration guide."""
    text = (DOCS / "integrations.md").read_text(encoding="utf-8")
    found = re.search(r"^## freqtrade\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert found, "docs/integrations.md has no `## freqtrade` section"
    return found.group(1)


def guide_block(language: str) -> str:
    """The first ``language`` code block of the freqtrade guide."""
    blocks = re.findall(rf"```{language}\n(.*?)```", freqtrade_guide(), flags=re.S)
    assert blocks, f"the freqtrade guide has no {language} block"
    return str(blocks[0])
