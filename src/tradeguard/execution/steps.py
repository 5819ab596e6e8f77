"""Use cases written as steps, so one piece of code serves threads and the event loop.

A use case that must write to the audit trail midway (the gate's decisions before the orders,
the executor's order events after them) is a generator: it ``yield``s the records to write and
receives their seqs, or gets the write's failure thrown in at the ``yield``, and handles it as
it would a failed call. :func:`drive` performs the writes with a blocking ``record_many`` (a
gate thread); :func:`adrive` awaits an ``arecord_many`` (the webhook's event loop), so the loop
serves other requests while the writes become durable. Everything between two writes runs as
one piece, exactly as in a plain function.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Generator
from typing import TypeVar, cast

from ..audit.records import AuditRecord

T = TypeVar("T")

WriteSteps = Generator[list[AuditRecord], list[int], T]
"""Yields records to write durably; receives their seqs; returns the result."""


def drive(steps: WriteSteps[T], write: Callable[[list[AuditRecord]], list[int]]) -> T:
    """Run ``steps`` to the end, writing each batch of records with ``write`` (blocking)."""
    try:
        records = next(steps)
        while True:
            try:
                seqs = write(records)
            except Exception as exc:  # the step handles it where it wrote
                records = steps.throw(exc)
            else:
                records = steps.send(seqs)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]  # the generator's return value


def _first_step(steps: WriteSteps[T]) -> tuple[list[AuditRecord], T | None, bool]:
    # ``next`` for a worker thread (a StopIteration cannot travel through a Future): the
    # records of the first write, or the result when the steps ended without one.
    try:
        return next(steps), None, False
    except StopIteration as stop:
        return [], stop.value, True


async def adrive(
    steps: WriteSteps[T],
    write: Callable[[list[AuditRecord]], Awaitable[list[int]]],
    *,
    first_step_in_thread: bool = False,
) -> T:
    """Run ``steps`` to the end, awaiting ``write`` for each batch of records.

    ``first_step_in_thread`` runs the steps up to their first write on a worker thread, so
    whatever may block there (reading the sources, an idempotency query over the network)
    never stalls the event loop; the steps after each write run on the loop.
    """
    try:
        if first_step_in_thread:
            records, result, done = await asyncio.to_thread(_first_step, steps)
            if done:
                return cast(T, result)
        else:
            records = next(steps)
        while True:
            try:
                seqs = await write(records)
            except Exception as exc:  # the step handles it where it wrote
                records = steps.throw(exc)
            else:
                records = steps.send(seqs)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]  # the generator's return value


__all__ = ["WriteSteps", "adrive", "drive"]
