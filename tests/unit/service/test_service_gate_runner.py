"""The webhook's gate runner: results and errors come back to the awaiting request."""

from __future__ import annotations

import asyncio
import threading

import pytest

from tradeguard.api.runner import GateRunner
from tradeguard.codes import ErrorCode
from tradeguard.errors import AuditUnavailableError


def test_runner_returns_each_result_to_its_own_request_from_a_worker_thread():
    callers: set[str] = set()

    def call(item: int) -> int:
        callers.add(threading.current_thread().name)
        return item * 2

    runner: GateRunner[int, int] = GateRunner(call, workers=3, name="test-gate")

    async def main() -> list[int]:
        return list(await asyncio.gather(*(runner.run(i) for i in range(50))))

    try:
        assert asyncio.run(main()) == [i * 2 for i in range(50)]
    finally:
        runner.close()
    assert callers and all(name.startswith("test-gate-") for name in callers)


def test_runner_raises_the_gates_error_in_the_awaiting_request():
    def call(_item: int) -> int:
        raise AuditUnavailableError(ErrorCode.AUD_006, "cannot record")

    runner: GateRunner[int, int] = GateRunner(call, workers=1, name="test-gate")

    async def main() -> None:
        await runner.run(1)

    try:
        with pytest.raises(AuditUnavailableError):
            asyncio.run(main())
    finally:
        runner.close()


def test_runner_close_finishes_queued_calls_and_stops_its_threads():
    done: list[int] = []
    runner: GateRunner[int, None] = GateRunner(done.append, workers=2, name="test-gate")

    async def main() -> None:
        await asyncio.gather(*(runner.run(i) for i in range(10)))

    asyncio.run(main())
    runner.close()
    assert sorted(done) == list(range(10))
    assert not any(t.name.startswith("test-gate-") for t in threading.enumerate())


def test_runner_used_again_after_close_starts_new_threads():
    runner: GateRunner[int, int] = GateRunner(lambda item: item + 1, workers=2, name="test-gate")

    async def once() -> int:
        return await runner.run(1)

    assert asyncio.run(once()) == 2
    runner.close()
    try:
        assert asyncio.run(once()) == 2
    finally:
        runner.close()
