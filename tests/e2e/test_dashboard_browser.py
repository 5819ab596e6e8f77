"""The dashboard in headless Chromium (Debian's package) against `tradeguard run` (the README way).

One browser session and one service for the module; the steps run in order (ALLOW, kill switch,
decision in the table, latch reset) and save a screenshot each under the test's output.
Without Chromium the tests skip loudly; ``TRADEGUARD_REQUIRE_BROWSER=1`` (CI) makes that a
failure. Selenium Manager never runs: the driver and browser paths are given explicitly.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.test_service_e2e import TOKEN, TRADEGUARD, _cli, _env, _free_port, _send

CHROMIUM = "/usr/bin/chromium"  # Debian's packages: chromium, chromium-driver
CHROMEDRIVER = "/usr/bin/chromedriver"
WINDOW = (1440, 1500)  # tall enough that each screenshot holds the whole page


def _unavailable(reason: str) -> None:
    message = f"headless Chromium unavailable ({reason}); apt-get install chromium chromium-driver"
    if os.environ.get("TRADEGUARD_REQUIRE_BROWSER") == "1":
        pytest.fail("TRADEGUARD_REQUIRE_BROWSER=1 but " + message)
    pytest.skip("SKIPPED LOUDLY: " + message)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _unavailable("selenium is not installed")
        raise
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            _unavailable(f"{path} is missing")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def service(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, dict[str, str], subprocess.Popen[bytes]]]:
    tmp_path = tmp_path_factory.mktemp("dashboard")
    port = _free_port()
    env = _env(tmp_path, port)
    with (tmp_path / "service.log").open("w") as log:
        process = subprocess.Popen(
            [TRADEGUARD, "run"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_until(lambda: _answers(base), 30, lambda: (tmp_path / "service.log").read_text())
            yield base, env, process
        finally:
            process.terminate()
            process.wait(10)


def _answers(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=0.5).status_code == 200
    except httpx.HTTPError:
        return False


def _wait_until(
    condition: Callable[[], Any], seconds: float, describe: Callable[[], str] = str
) -> Any:
    """Poll ``condition`` until it is truthy; fail after ``seconds`` saying what was seen."""
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"not within {seconds} s; last seen: {describe()}")
        time.sleep(0.05)


def _text(driver: Any, element_id: str) -> str:
    from selenium.webdriver.common.by import By

    return str(driver.find_element(By.ID, element_id).text)


def _click(driver: Any, element_id: str) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.ID, element_id).click()


def _type(driver: Any, element_id: str, value: str) -> None:
    from selenium.webdriver.common.by import By

    field = driver.find_element(By.ID, element_id)
    field.clear()
    field.send_keys(value)


def _data(driver: Any, selector: str, key: str) -> list[str]:
    """Read ``data-<key>`` of every match in one script: the page re-renders its tables every
    second, so element handles found one call earlier may already be gone."""
    script = (
        "return Array.from(document.querySelectorAll(arguments[0]))"
        ".map(e => e.dataset[arguments[1]])"
    )
    return [str(value) for value in driver.execute_script(script, selector, key)]


def _table_correlation_ids(driver: Any) -> list[str]:
    return _data(driver, "#decisions tbody tr[data-correlation-id]", "correlationId")


def _shoot(driver: Any, shots: Path, name: str) -> Path:
    from selenium.webdriver.common.by import By

    path = shots / f"{name}.png"  # the page's own height, not the window's
    assert driver.find_element(By.TAG_NAME, "body").screenshot(str(path)), name
    return path


def test_dashboard_allow_kill_switch_halt_decision_and_latch_reset(
    browser: Any, service: tuple[str, dict[str, str], subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    # One test walks the steps in order: under xdist, tests of a module may run on
    # different workers, and these steps share one service and one browser.
    base, env, process = service
    _step_allow(browser, base, tmp_path)
    _step_kill_switch(browser, base, tmp_path)
    _step_decision(browser, base, tmp_path)
    _step_release_and_reset(browser, base, env, tmp_path)
    # no script error on the way (the wrong token's 401 is the one expected console line)
    errors = [
        entry["message"]
        for entry in browser.get_log("browser")
        if entry["level"] == "SEVERE" and " 401 " not in entry["message"]
    ]
    assert errors == []
    _step_service_down(browser, process, tmp_path)
    assert sorted(p.name for p in tmp_path.glob("*.png")) == [
        "0-wrong-token.png",
        "1-allow.png",
        "2-halt.png",
        "3-decision.png",
        "4-latched.png",
        "5-allow-again.png",
        "6-service-down.png",
    ]


def _step_allow(browser: Any, base: str, shots: Path) -> None:
    """With the token the page shows ALLOW and every health check; the token is kept nowhere."""
    from selenium.webdriver.common.by import By

    for _ in range(3):
        assert _send(base).json()["outcome"] == "EXECUTED"
    browser.get(base + "/")
    assert _text(browser, "state") == "UNKNOWN"  # nothing is shown before the token
    _type(browser, "token", "not-the-token")
    _click(browser, "connect")
    _wait_until(
        lambda: "AUTH_INVALID" in _text(browser, "token-error"),
        5,
        lambda: _text(browser, "token-error"),
    )
    assert _text(browser, "state") == "UNKNOWN"
    _shoot(browser, shots, "0-wrong-token")
    _type(browser, "token", TOKEN)
    _click(browser, "connect")
    _wait_until(lambda: _text(browser, "state") == "ALLOW", 5, lambda: _text(browser, "state"))
    assert "banner ALLOW" in str(browser.find_element(By.ID, "banner").get_attribute("class"))
    status = httpx.get(
        f"{base}/v1/status", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    ).json()
    assert set(_data(browser, "#checks tbody tr", "check")) == {
        check["name"] for check in status["health_checks"]
    }
    # the token went nowhere but the page's memory
    stored = browser.execute_script(
        "return [localStorage.length, sessionStorage.length, document.cookie,"
        " document.getElementById('token').value]"
    )
    assert stored == [0, 0, "", ""]
    _wait_until(lambda: browser.find_elements(By.CSS_SELECTOR, "#chart svg"), 10)
    _wait_until(
        lambda: "3 accepted" in _text(browser, "chart-totals"),
        5,
        lambda: _text(browser, "chart-totals"),
    )
    _shoot(browser, shots, "1-allow")


def _step_kill_switch(browser: Any, base: str, shots: Path) -> None:
    """The kill switch button turns the page to HALT within 2 s."""
    _type(browser, "operator", "alice")
    _type(browser, "action-reason", "browser drill")
    _click(browser, "engage")
    clicked = time.monotonic()
    _wait_until(lambda: _text(browser, "state") == "HALT", 2, lambda: _text(browser, "state"))
    assert time.monotonic() - clicked <= 2
    assert _text(browser, "reason-code") == "HALT_KILL_SWITCH"
    assert "alice" in _text(browser, "kill-info")
    kill = httpx.get(
        f"{base}/v1/status", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    ).json()["kill_switch"]
    assert kill["active"] is True and kill["actor"] == "alice"
    assert kill["reason"] == "browser drill"
    _shoot(browser, shots, "2-halt")


def _step_decision(browser: Any, base: str, shots: Path) -> None:
    """A signal's decision appears in the table, and the chart counts its refusal."""
    answer = _send(base).json()
    assert answer["decision"] == "HALT" and answer["outcome"] == "REFUSED"
    correlation_id = answer["correlation_id"]
    sent = time.monotonic()
    _wait_until(
        lambda: correlation_id in _table_correlation_ids(browser),
        2.5,
        lambda: str(_table_correlation_ids(browser)),
    )
    assert time.monotonic() - sent <= 2.5  # polled every second: at most 2 s behind, plus slack
    # the chart counts it as a refusal (refreshed when a signal decision arrives)
    _wait_until(
        lambda: "1 refused" in _text(browser, "chart-totals"),
        4,
        lambda: _text(browser, "chart-totals"),
    )
    _shoot(browser, shots, "3-decision")


def _step_release_and_reset(browser: Any, base: str, env: dict[str, str], shots: Path) -> None:
    """Release leaves the HALT latched; the latch reset brings ALLOW back."""
    _type(browser, "action-reason", "drill over")
    _click(browser, "release")  # arms the button
    assert "confirm" in _text(browser, "release").lower()
    _click(browser, "release")
    _wait_until(
        lambda: "released" in _text(browser, "action-result"),
        5,
        lambda: _text(browser, "action-result"),
    )
    # released, but the HALT stays latched until the window passes or an operator resets it
    _wait_until(
        lambda: _text(browser, "reason-code") == "HALT_LATCHED",
        3,
        lambda: _text(browser, "reason-code"),
    )
    assert _text(browser, "state") == "HALT"
    _shoot(browser, shots, "4-latched")
    _click(browser, "reset")
    _click(browser, "reset")
    _wait_until(lambda: _text(browser, "state") == "ALLOW", 3, lambda: _text(browser, "state"))
    assert "Latch reset by alice" in _text(browser, "action-result")
    assert _send(base).json()["decision"] == "ALLOW"
    operator_log = _cli(env, "audit", "verify")
    assert operator_log.returncode == 0, operator_log.stdout + operator_log.stderr
    _shoot(browser, shots, "5-allow-again")


def _step_service_down(browser: Any, process: subprocess.Popen[bytes], shots: Path) -> None:
    """A service that stops answering turns the page to UNKNOWN, never a stale ALLOW."""
    assert _text(browser, "state") == "ALLOW"
    process.terminate()
    process.wait(10)
    _wait_until(lambda: _text(browser, "state") == "UNKNOWN", 8, lambda: _text(browser, "state"))
    assert "no answer" in _text(browser, "reason-code")
    _shoot(browser, shots, "6-service-down")
