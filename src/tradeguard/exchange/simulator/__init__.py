"""The exchange simulator: a loopback VALR + Binance spot server with fault controls."""

from __future__ import annotations

from .faults import FAULT_KEYS, FaultSpecError, SimulatorFaults
from .server import DEFAULT_API_KEY, DEFAULT_API_SECRET, ExchangeSimulator
from .state import KNOWN_SYMBOLS, AcceptedOrder

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_API_SECRET",
    "FAULT_KEYS",
    "KNOWN_SYMBOLS",
    "AcceptedOrder",
    "ExchangeSimulator",
    "FaultSpecError",
    "SimulatorFaults",
]
