"""``status`` reports the decision and the health checks from one and the same pass."""

from __future__ import annotations

from itertools import count

from tradeguard.sources.health import CheckResult, CheckStatus

from ...service_support import bearer, service

SEVERITY = {"GREEN": 0, "NOT_CONFIGURED": 0, "YELLOW": 1, "RED": 2}


class Flapping:
    """A check that answers GREEN and YELLOW in turn, so two passes would disagree."""

    name = "flapping"

    def __init__(self) -> None:
        self._calls = count()

    def check(self) -> CheckResult:
        if next(self._calls) % 2:
            return CheckResult(self.name, CheckStatus.YELLOW, "MARKET_DATA_STALE", "flap")
        return CheckResult(self.name, CheckStatus.GREEN, "CHECK_OK")


def test_status_health_status_is_the_worst_of_the_checks_it_shows():
    with service() as (container, client):
        container.health._checks = (*container.health._checks, Flapping())
        for _ in range(12):
            container.builder.invalidate()
            body = client.get("/v1/status", headers=bearer()).json()
            worst = max(SEVERITY[c["status"]] for c in body["health_checks"])
            assert SEVERITY[body["health_status"]] == worst, body
            assert (body["decision"] == "NEUTRAL") == (worst > 0) or body["decision"] == "HALT"
