"""Exchange port adapters: paper, VALR, ccxt; DRY_RUN isolation; reachability monitoring.

:func:`create_exchange` is the one place that turns settings into an ``ExchangeClient``. In
DRY_RUN a non-paper adapter is wrapped in :class:`DryRunExchange`, so no order or cancel can
reach it, whatever else is configured.
"""

from __future__ import annotations

from pydantic import SecretStr

from ..codes import ErrorCode
from ..errors import ConfigurationError
from ..logging import get_logger
from ..policy import Clock
from ..ports import ExchangeClient
from ..settings import Settings
from .ccxt_adapter import CcxtExchange
from .dry_run import DryRunExchange
from .market import SimulatedMarket, split_symbol
from .matching import RemainderPolicy
from .monitored import MonitoredExchange
from .paper import PaperExchange
from .reachability import ExchangeProber, ExchangeReachability, ReachabilitySnapshot
from .valr import DEFAULT_BASE_URL, ValrExchange, sign_request

_log = get_logger(__name__)


def _secret(value: SecretStr | None, name: str, settings: Settings) -> SecretStr:
    if value is not None:
        return value
    if settings.is_live:
        raise ConfigurationError(
            ErrorCode.CONFIG_INVALID,
            f"TRADEGUARD_{name} is required for TRADEGUARD_EXCHANGE={settings.exchange} in LIVE",
            hint=f"set TRADEGUARD_{name}",
        )
    # DRY_RUN may read public data without credentials; signed calls then fail with
    # EXCHANGE_AUTH_FAILED.
    return SecretStr("")


def _real_adapter(settings: Settings, clock: Clock) -> ExchangeClient:
    key = _secret(settings.exchange_api_key, "EXCHANGE_API_KEY", settings)
    secret = _secret(settings.exchange_api_secret, "EXCHANGE_API_SECRET", settings)
    if settings.exchange == "valr":
        return ValrExchange(
            settings.exchange_base_url or DEFAULT_BASE_URL,
            key,
            secret,
            clock,
            timeout_s=settings.exchange_request_timeout_seconds,
        )
    exchange_id = settings.exchange.removeprefix("ccxt:")
    return CcxtExchange(
        exchange_id,
        api_key=key,
        api_secret=secret,
        base_url=settings.exchange_base_url,
        clock=clock,
        timeout_s=settings.exchange_request_timeout_seconds,
    )


def create_exchange(settings: Settings, clock: Clock) -> ExchangeClient:
    """Build the adapter named by ``settings.exchange`` (paper, valr, ccxt:<id>).

    In DRY_RUN a non-paper adapter is returned inside a :class:`DryRunExchange`: reads go to
    it, orders and cancels go to paper (logged once with code ``DRY_RUN_ISOLATION``).

    Raises:
        ConfigurationError: for a LIVE adapter without credentials, an unknown ccxt id, or ccxt
            not installed.
    """
    if settings.exchange == "paper":
        return PaperExchange(
            clock,
            price_source=None,
            partial_fill_ratio=settings.paper_partial_fill_ratio,
            latency_ms=settings.paper_latency_ms,
            quote_balance=settings.paper_quote_balance,
        )
    real = _real_adapter(settings, clock)
    if settings.is_live:
        return real
    _log.warning(
        "dry_run_isolation",
        code=ErrorCode.DRY_RUN_ISOLATION.value,
        exchange=settings.exchange,
        message="DRY_RUN: orders and cancels go to the paper exchange, never to the adapter",
    )
    return DryRunExchange(
        real,
        clock,
        partial_fill_ratio=settings.paper_partial_fill_ratio,
        latency_ms=settings.paper_latency_ms,
        quote_balance=settings.paper_quote_balance,
    )


__all__ = [
    "DEFAULT_BASE_URL",
    "CcxtExchange",
    "DryRunExchange",
    "ExchangeProber",
    "ExchangeReachability",
    "MonitoredExchange",
    "PaperExchange",
    "ReachabilitySnapshot",
    "RemainderPolicy",
    "SimulatedMarket",
    "ValrExchange",
    "create_exchange",
    "sign_request",
    "split_symbol",
]
