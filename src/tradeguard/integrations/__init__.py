"""Guards for the bots people already run, which keep their own execution.

- :mod:`tradeguard.integrations.client`: ``DecideClient``, the typed client of the decide API.
- :mod:`tradeguard.integrations.ccxt`: ``guard(exchange, ...)``, a ccxt exchange whose
  order-placing calls go through the gate first (needs the ``ccxt`` extra).
- :mod:`tradeguard.integrations.freqtrade`: ``TradeGuardMixin``, a freqtrade strategy base
  that asks the decide API before every entry and exit (the ``freqtrade`` extra; freqtrade
  itself is never imported here).

Nothing here is imported by the rest of the package, and ccxt is imported only by its module.
"""

from __future__ import annotations

__all__: list[str] = []
