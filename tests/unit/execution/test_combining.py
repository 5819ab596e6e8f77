"""Combiner: concurrent callers' items are answered in batches, each caller with its own answer."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest

from tradeguard.execution.combining import Combiner


class Recorder:
    def __init__(self, fail_on: int | None = None, explode: bool = False) -> None:
        self.batches: list[list[int]] = []
        self.fail_on = fail_on
        self.explode = explode
        self.lock = threading.Lock()

    def __call__(self, items: Sequence[int]) -> list[int | Exception]:
        with self.lock:
            self.batches.append(list(items))
        if self.explode:
            raise RuntimeError("batch failed")
        return [ValueError(f"bad {i}") if i == self.fail_on else i * 10 for i in items]


def _run_concurrently(combiner: Combiner[int, int], items: list[int]) -> dict[int, object]:
    answers: dict[int, object] = {}
    start = threading.Barrier(len(items))

    def call(item: int) -> None:
        start.wait()
        try:
            answers[item] = combiner.submit(item)
        except Exception as exc:
            answers[item] = exc

    threads = [threading.Thread(target=call, args=(item,)) for item in items]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return answers


def test_every_caller_gets_its_own_answer_and_items_share_batches() -> None:
    recorder = Recorder()
    combiner: Combiner[int, int] = Combiner(recorder, lanes=1, max_batch=64, name="t")
    for _ in range(20):
        answers = _run_concurrently(combiner, list(range(16)))
        assert answers == {i: i * 10 for i in range(16)}
    seen = sorted(i for batch in recorder.batches for i in batch)
    assert seen == sorted(list(range(16)) * 20)  # each item decided exactly once
    assert max(len(batch) for batch in recorder.batches) > 1


def test_an_item_refused_in_a_batch_raises_only_for_its_caller() -> None:
    combiner: Combiner[int, int] = Combiner(Recorder(fail_on=3), lanes=2, max_batch=8, name="t")
    answers = _run_concurrently(combiner, list(range(8)))
    assert isinstance(answers[3], ValueError)
    assert {i: a for i, a in answers.items() if i != 3} == {i: i * 10 for i in range(8) if i != 3}


def test_a_failing_batch_fails_each_of_its_callers_and_the_lane_survives() -> None:
    recorder = Recorder(explode=True)
    combiner: Combiner[int, int] = Combiner(recorder, lanes=1, max_batch=4, name="t")
    answers = _run_concurrently(combiner, list(range(6)))
    assert all(isinstance(a, RuntimeError) for a in answers.values())
    recorder.explode = False
    assert combiner.submit(7) == 70


def test_max_batch_bounds_every_batch() -> None:
    recorder = Recorder()
    combiner: Combiner[int, int] = Combiner(recorder, lanes=1, max_batch=3, name="t")
    _run_concurrently(combiner, list(range(12)))
    assert all(1 <= len(batch) <= 3 for batch in recorder.batches)


def test_a_wrong_number_of_answers_fails_the_batch() -> None:
    combiner: Combiner[int, int] = Combiner(lambda items: [1], lanes=1, max_batch=1, name="t")
    assert combiner.submit(5) == 1
    short: Combiner[int, int] = Combiner(lambda items: [], lanes=1, max_batch=1, name="t")
    with pytest.raises(RuntimeError, match="0 answers for 1"):
        short.submit(5)
