"""For any sequence of connection outcomes: lockdown exactly at each fifth consecutive failure."""

from __future__ import annotations

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from tradeguard.feeds.sse import EventFeedClient

# Each outcome is one connection attempt: "ok" is a live stream, the rest are failures.
OUTCOMES = st.sampled_from(["ok", "503", "html", "empty", "error"])


def _transport(outcomes: list[str]) -> httpx.MockTransport:
    queue = list(outcomes)

    def handler(request: httpx.Request) -> httpx.Response:
        outcome = queue.pop(0)
        if outcome == "ok":
            return httpx.Response(
                200, headers={"content-type": "text/event-stream"}, content=b": hi\n\n"
            )
        if outcome == "503":
            return httpx.Response(503)
        if outcome == "html":
            return httpx.Response(200, headers={"content-type": "text/html"}, content=b"<p>")
        if outcome == "empty":
            return httpx.Response(200, headers={"content-type": "text/event-stream"})
        raise httpx.ConnectError("refused", request=request)

    return httpx.MockTransport(handler)


def _expected_lockdown_points(outcomes: list[str]) -> list[int]:
    points, run = [], 0
    for index, outcome in enumerate(outcomes, start=1):
        run = 0 if outcome == "ok" else run + 1
        if run == 5:
            points.append(index)
            run = 0
    return points


@settings(max_examples=200, deadline=None)
@given(st.lists(OUTCOMES, max_size=40))
def test_lockdown_fires_exactly_at_every_fifth_consecutive_failed_attempt(
    outcomes: list[str],
) -> None:
    fired_at: list[int] = []
    attempt = 0
    client = EventFeedClient(
        "http://feed.test/events", on_exhausted=lambda _n: fired_at.append(attempt)
    )
    with httpx.Client(transport=_transport(outcomes)) as http:
        for attempt in range(1, len(outcomes) + 1):
            live = client.run_once(http)
            assert live == (outcomes[attempt - 1] == "ok")
    assert fired_at == _expected_lockdown_points(outcomes)


@settings(max_examples=200, deadline=None)
@given(
    failures=st.integers(min_value=0, max_value=12),
    retry_ms=st.one_of(st.none(), st.integers(min_value=1, max_value=60_000)),
    jitter=st.floats(min_value=0, max_value=1, exclude_max=True),
)
def test_backoff_is_full_jitter_within_the_capped_exponential(
    failures: int, retry_ms: int | None, jitter: float
) -> None:
    client = EventFeedClient(
        "http://feed.test/events",
        backoff_initial_seconds=0.5,
        backoff_max_seconds=30,
        random=lambda: jitter,
    )
    client.consecutive_failures = failures
    client.parser.retry_ms = retry_ms
    base = 0.5 if retry_ms is None else retry_ms / 1000
    ceiling = min(30.0, base * 2 ** max(0, failures - 1))
    delay = client.next_delay()
    assert 0 <= delay <= ceiling
    assert abs(delay - jitter * ceiling) < 1e-9
