"""The dashboard's files and the per-minute counts behind its chart, over the FastAPI app."""

from __future__ import annotations

import re
from importlib import resources

import pytest

from tests.service_support import bearer, make_settings, post_signal, service, signal_body
from tradeguard.api.dashboard import PAGE, STATIC_FILES

STATIC = resources.files("tradeguard.api") / "static"


def test_the_page_and_its_files_are_served_from_the_package_under_a_strict_csp() -> None:
    with service() as (_container, client):
        page = client.get("/")
        files = {name: client.get(f"/static/{name}") for name in STATIC_FILES}
        missing = client.get("/static/secrets.txt")
        escape = client.get("/static/..%2Fapp.py")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "connect-src 'self'" in csp
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    for name, response in files.items():
        assert response.status_code == 200, name
        assert response.headers["content-type"] == STATIC_FILES[name]
        assert f"/static/{name}" in page.text
    assert missing.status_code == 404 and escape.status_code == 404


def test_the_page_needs_nothing_from_outside_and_keeps_the_token_out_of_storage() -> None:
    names = [PAGE, *STATIC_FILES]
    for name in names:
        source = (STATIC / name).read_text("utf-8")
        urls = re.findall(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}[^\s\"')]*", source)
        assert [u for u in urls if u != "http://www.w3.org/2000/svg"] == [], name
        assert "<script>" not in source and " style=" not in source, name  # CSP: no inline
    script = (STATIC / "dashboard.js").read_text("utf-8")
    code = "\n".join(
        line for line in script.splitlines() if not line.lstrip().startswith(("*", "/*", "//"))
    )
    for forbidden in ("localStorage", "sessionStorage", "document.cookie", "indexedDB"):
        assert forbidden not in code


def test_decision_counts_need_the_operator_token_and_a_sane_window() -> None:
    with service() as (_container, client):
        anonymous = client.get("/v1/decisions/counts")
        zero = client.get("/v1/decisions/counts?minutes=0", headers=bearer())
        huge = client.get("/v1/decisions/counts?minutes=100000", headers=bearer())
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "AUTH_INVALID"
    assert zero.status_code == 422 and huge.status_code == 422
    assert zero.json()["code"] == "INPUT_INVALID_VALUE"


def test_decision_counts_are_disabled_without_an_operator_token() -> None:
    with service(make_settings(operator_token=None)) as (_container, client):
        answer = client.get("/v1/decisions/counts", headers=bearer())
    assert answer.status_code == 403 and answer.json()["code"] == "OPERATOR_API_DISABLED"


def test_decision_counts_show_accepted_and_refused_signals_of_this_minute() -> None:
    with service() as (_container, client):
        body = signal_body()
        assert post_signal(client, body).json()["outcome"] == "EXECUTED"
        assert post_signal(client, body).json()["duplicate"] is True  # not a new decision
        client.post(
            "/v1/kill-switch",
            json={"active": True, "operator_id": "alice", "reason": "chart test"},
            headers=bearer(),
        )
        assert post_signal(client, signal_body()).json()["outcome"] == "REFUSED"
        answer = client.get("/v1/decisions/counts?minutes=5", headers=bearer()).json()
    assert len(answer["minutes"]) == 5
    assert answer["totals"] == {"decisions": 2, "accepted": 1, "refused": 1}
    labels: dict[str, int] = {}
    for minute in answer["minutes"]:
        for label, count in minute["by_decision"].items():
            labels[label] = labels.get(label, 0) + count
    assert labels == {"ALLOW": 1, "HALT": 1}


@pytest.mark.parametrize("status", [401, 403])
def test_decision_counts_are_in_the_openapi_document_with_their_auth_errors(status: int) -> None:
    with service() as (_container, client):
        document = client.get("/openapi.json").json()
    operation = document["paths"]["/v1/decisions/counts"]["get"]
    assert str(status) in operation["responses"]
    assert "minutes" in {parameter["name"] for parameter in operation["parameters"]}
