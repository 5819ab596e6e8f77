"""A process killed with SIGKILL while it holds reservations frees them after its lease.

A child process opens the shared book, reserves most of the exposure cap, reports, and is
killed with SIGKILL. Until its lease runs out the capacity stays held (another process is
refused: fail closed); after it, the next check deletes the dead owner's reservations and
the capacity is back.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from decimal import Decimal

from tradeguard.audit.postgres import PostgresAuditStore
from tradeguard.clock import SystemClock
from tradeguard.codes import ErrorCode
from tradeguard.execution.shared_book import SharedPositionBook
from tradeguard.policy import Side
from tradeguard.policy.orders import INTENT_OK

LEASE = 6.0  # generous: the first checks below must run within it on a loaded machine
CAPS = {"price_lookup": lambda _s: Decimal(100), "max_gross_exposure": Decimal(1000)}

CHILD = textwrap.dedent(
    """
    import sys, time
    from decimal import Decimal
    from tradeguard.clock import SystemClock
    from tradeguard.execution.shared_book import SharedPositionBook
    from tradeguard.policy import Side
    from tradeguard.policy.orders import INTENT_OK

    book = SharedPositionBook(
        SystemClock(), sys.argv[1], account="acct", lease_seconds=float(sys.argv[2]),
        price_lookup=lambda _s: Decimal(100), max_gross_exposure=Decimal(1000),
    )
    book.start()
    check, reservation = book.check_and_reserve("BTC", Side.BUY, Decimal(8), lambda _p: INTENT_OK)
    print("reserved" if reservation else f"refused {check.code}", flush=True)
    time.sleep(600)
    """
)


def test_a_killed_owner_holds_capacity_until_its_lease_expires_then_never_again(postgres_url):
    PostgresAuditStore(postgres_url).close()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, postgres_url, str(LEASE)],
        stdout=subprocess.PIPE,
        text=True,
    )
    book = SharedPositionBook(SystemClock(), postgres_url, account="acct", **CAPS)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "reserved"
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
        killed_at = time.monotonic()
        check, reservation = book.check_and_reserve("BTC", Side.BUY, Decimal(5), _ok)
        assert reservation is None and check.code is ErrorCode.RISK_EXPOSURE
        assert book.reserved("BTC") == (Decimal(8), Decimal(0))
        deadline = killed_at + LEASE * 10
        while book.reserved("BTC") != (Decimal(0), Decimal(0)):
            assert time.monotonic() < deadline, "the dead owner's reservation outlived its lease"
            book.renew()  # a check would sweep the same way
            time.sleep(0.1)
        check, reservation = book.check_and_reserve("BTC", Side.BUY, Decimal(5), _ok)
        assert reservation is not None
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
        book.close()


def _ok(_position: Decimal) -> object:
    return INTENT_OK
