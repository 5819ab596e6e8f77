"""The webhook's batcher: signals arriving together share a batch; answers go back 1:1."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import pytest

from tradeguard.api.batcher import SignalBatcher


def test_signals_that_arrive_while_a_batch_runs_leave_together_and_get_their_own_answers():
    sizes: list[int] = []
    release = threading.Event()

    def submit_many(items: Sequence[int]) -> list[int | Exception]:
        sizes.append(len(items))
        release.wait(5)
        return [ValueError(f"odd {i}") if i % 2 else i * 10 for i in items]

    batcher: SignalBatcher[int, int] = SignalBatcher(
        submit_many, workers=1, max_batch=8, name="test-batch"
    )

    async def main() -> list[int | BaseException]:
        tasks = [asyncio.ensure_future(batcher.submit(i)) for i in range(9)]
        await asyncio.sleep(0.05)
        release.set()
        return list(await asyncio.gather(*tasks, return_exceptions=True))

    try:
        answers = asyncio.run(main())
    finally:
        batcher.close()
    assert sizes == [1, 8]
    for i, answer in enumerate(answers):
        if i % 2:
            assert isinstance(answer, ValueError) and str(answer) == f"odd {i}"
        else:
            assert answer == i * 10


def test_a_batch_that_fails_as_a_whole_fails_each_of_its_requests():
    def submit_many(items: Sequence[int]) -> list[int | Exception]:
        raise RuntimeError("gate bug")

    batcher: SignalBatcher[int, int] = SignalBatcher(
        submit_many, workers=2, max_batch=4, name="test-batch"
    )

    async def main() -> None:
        await batcher.submit(1)

    try:
        with pytest.raises(RuntimeError, match="gate bug"):
            asyncio.run(main())
    finally:
        batcher.close()


def test_a_wrong_number_of_answers_never_leaves_a_request_waiting():
    batcher: SignalBatcher[int, int] = SignalBatcher(
        lambda items: [], workers=1, max_batch=4, name="test-batch"
    )

    async def main() -> None:
        await asyncio.wait_for(batcher.submit(1), timeout=5)

    try:
        with pytest.raises(RuntimeError, match="0 answers for 1 signals"):
            asyncio.run(main())
    finally:
        batcher.close()
