"""Configuration: ``TRADEGUARD_*`` environment variables or a TOML file named by
``TRADEGUARD_CONFIG``; validated at start, frozen, unknown keys refused, secrets never printed.

Each field's ``description`` is its meaning and its ``verify`` extra says how an operator checks
it without printing a secret; the runbook's environment table is generated from both.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .codes import ErrorCode
from .errors import ConfigurationError, LiveModeRefusedError

ENV_PREFIX = "TRADEGUARD_"
CONFIG_ENV = "TRADEGUARD_CONFIG"
# Variables that share the prefix but are not settings of the service.
META_VARIABLES = frozenset(
    {
        CONFIG_ENV,
        "TRADEGUARD_TEST_DATABASE_URL",
        "TRADEGUARD_REQUIRE_POSTGRES",
        "TRADEGUARD_REQUIRE_BROWSER",
    }
    # Read by bots (the freqtrade mixin) and tests beside the service, not by it.
    | {"TRADEGUARD_URL", "TRADEGUARD_DECIDE_TIMEOUT_SECONDS", "TRADEGUARD_REQUIRE_FREQTRADE"}
)


class ExecutionMode(StrEnum):
    """DRY_RUN never sends a real order; LIVE does."""

    DRY_RUN = "DRY_RUN"
    LIVE = "LIVE"


def _verify(text: str) -> dict[str, Any]:
    return {"verify": text}


_STATUS_JSON = "`tradeguard status --json`"


class Settings(BaseSettings):
    """Every setting of tradeguard; see the runbook for the table."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, frozen=True, extra="forbid", case_sensitive=False
    )

    database_url: str = Field(
        "sqlite:///./tradeguard.db",
        description="Audit and state database: sqlite:///PATH (embedded) or postgresql://...",
        json_schema_extra=_verify("`tradeguard audit verify` exits 0"),
    )
    execution_mode: ExecutionMode = Field(
        ExecutionMode.DRY_RUN,
        description="DRY_RUN (paper fills only, never a real order) or LIVE.",
        json_schema_extra=_verify(f"`execution_mode` in {_STATUS_JSON}"),
    )
    exchange: str = Field(
        "paper",
        description="Exchange adapter: paper, valr, or ccxt:<exchange id>.",
        json_schema_extra=_verify("`tradeguard time check` reaches the exchange"),
    )
    exchange_base_url: str | None = Field(
        None,
        description="Exchange API base URL (VALR default https://api.valr.com; a simulator URL).",
        json_schema_extra=_verify("`tradeguard time check` exits 0"),
    )
    exchange_api_key: SecretStr | None = Field(
        None,
        description="Exchange API key (secret).",
        json_schema_extra=_verify('`test -n "$TRADEGUARD_EXCHANGE_API_KEY"`; never echo it'),
    )
    exchange_api_secret: SecretStr | None = Field(
        None,
        description="Exchange API secret (secret).",
        json_schema_extra=_verify('`test -n "$TRADEGUARD_EXCHANGE_API_SECRET"`; never echo it'),
    )
    webhook_secret: SecretStr | None = Field(
        None,
        description="HMAC-SHA256 key for signed signals (X-TradeGuard-Signature).",
        json_schema_extra=_verify("a signed `tradeguard signal send` is answered, not 401"),
    )
    webhook_passphrase: SecretStr | None = Field(
        None,
        description="Passphrase for senders that cannot sign (TradingView); constant-time compare.",
        json_schema_extra=_verify('`test -n "$TRADEGUARD_WEBHOOK_PASSPHRASE"`'),
    )
    operator_token: SecretStr | None = Field(
        None,
        description="Bearer token for operator endpoints; required in LIVE.",
        json_schema_extra=_verify('`curl -H "Authorization: Bearer $TOKEN" .../v1/status` is 200'),
    )
    host: str = Field(
        "127.0.0.1",
        description="Address the service listens on.",
        json_schema_extra=_verify("`curl http://HOST:PORT/healthz`"),
    )
    port: int = Field(
        8080,
        ge=0,
        le=65535,
        description="Port the service listens on.",
        json_schema_extra=_verify("`curl http://HOST:PORT/healthz`"),
    )
    workers: int = Field(
        1,
        ge=1,
        le=64,
        description=(
            "Worker processes behind the one port (PostgreSQL only: they share the account"
            " state; SQLite refuses more than one with WORKERS_UNSUPPORTED)."
        ),
        json_schema_extra=_verify("`tradeguard run` logs `workers_started` with this count"),
    )
    shared_lease_seconds: float = Field(
        30,
        gt=0,
        description=(
            "On PostgreSQL, how long the orders in flight of a process that died keep holding"
            " the account's caps before another process frees them (its resting orders keep"
            " holding them until an account read shows the exchange no longer lists them)."
        ),
        json_schema_extra=_verify("`shared_book_owners` rows expire this long after a kill"),
    )
    policy_enabled: bool = Field(
        True,
        description="The policy gate; false falls back to the legacy confidence rule (warned).",
        json_schema_extra=_verify("no POLICY_LAYER_DISABLED line in the logs"),
    )
    allow_policy_bypass_in_live: bool = Field(
        False,
        description="Lets LIVE start with the policy disabled. Never set this in production.",
        json_schema_extra=_verify('unset: `test -z "$TRADEGUARD_ALLOW_POLICY_BYPASS_IN_LIVE"`'),
    )
    legacy_min_confidence: Decimal = Field(
        Decimal(70),
        ge=0,
        le=100,
        description="With the policy disabled, the minimum ai_confidence that trades.",
        json_schema_extra=_verify("only relevant with TRADEGUARD_POLICY_ENABLED=false"),
    )
    budget_report: str | None = Field(
        None,
        description="Budget report written by the cost tracker: a file path or an HTTP(S) URL.",
        json_schema_extra=_verify(f"`budget_signal` is ALLOW in {_STATUS_JSON}"),
    )
    budget_max_age_seconds: float = Field(
        86400,
        gt=0,
        description="Budget report older than this (or in the future) is STALE_DATA.",
        json_schema_extra=_verify(f"`budget_signal` in {_STATUS_JSON}"),
    )
    budget_refresh_seconds: float = Field(
        5,
        gt=0,
        description="How often the budget report is re-read.",
        json_schema_extra=_verify("budget changes show in status within this time"),
    )
    event_feed_url: str | None = Field(
        None,
        description="SSE event feed URL; 5 failed reconnects in a row lock the system down (L6).",
        json_schema_extra=_verify(f"`event_feed` check is OK in {_STATUS_JSON}"),
    )
    feed_backoff_initial_seconds: float = Field(
        0.5, gt=0, description="First reconnect backoff of the event feed (full jitter)."
    )
    feed_backoff_max_seconds: float = Field(
        30, gt=0, description="Largest reconnect backoff of the event feed."
    )
    max_clock_drift_ms: int = Field(
        1000,
        gt=0,
        description="Largest tolerated |local - exchange| clock drift before NEUTRAL.",
        json_schema_extra=_verify("`tradeguard time check` shows within tolerance"),
    )
    sync_interval_seconds: float = Field(
        60, gt=0, description="How often the exchange clock is checked."
    )
    latch_reset_window_seconds: float = Field(
        300,
        ge=0,
        description="All gates must pass this long before a HALT latch clears by itself.",
        json_schema_extra=_verify(f"`is_latched` in {_STATUS_JSON}"),
    )
    source_timeout_ms: int = Field(
        250, gt=0, description="Per-source timeout when building a policy context."
    )
    exchange_timeout_seconds: float = Field(
        10,
        gt=0,
        description="Exchange is unreachable (RED) without a successful call within this time.",
    )
    account_check_interval_seconds: float = Field(
        5,
        gt=0,
        description="How often the exchange account (balances, open orders) is read; "
        "health check `exchange_account` is RED when it cannot be, HALT when keys are refused.",
        json_schema_extra=_verify(f"`exchange_account` in `health_checks` of {_STATUS_JSON}"),
    )
    exchange_request_timeout_seconds: float = Field(
        5, gt=0, description="Timeout of one exchange HTTP request."
    )
    exchange_probe_interval_seconds: float = Field(
        0.2,
        gt=0,
        description="Liveness probe of the exchange (its server time) while it is reachable.",
        json_schema_extra=_verify(f"`exchange_reachability.reachable` in {_STATUS_JSON}"),
    )
    exchange_probe_timeout_seconds: float = Field(
        0.4,
        gt=0,
        description="An exchange call (probe, order, ticker, ...) in flight longer than this "
        "marks the exchange unreachable (RED) at once; a probe must answer within it to recover.",
    )
    exchange_probe_backoff_max_seconds: float = Field(
        2.0,
        gt=0,
        description="Longest wait between probes while the exchange is unreachable (the wait "
        "doubles from the probe interval).",
    )
    max_market_data_age_seconds: float = Field(
        30, gt=0, description="A symbol's newest tick older than this is stale (YELLOW)."
    )
    symbols: tuple[str, ...] = Field(
        ("BTCUSDT",), description="Traded symbols whose market data freshness is checked."
    )
    heartbeat_interval_seconds: float = Field(
        1, gt=0, description="How often the service re-evaluates the policy for the trail."
    )
    drawdown_warning_pct: Decimal = Field(
        Decimal(5), ge=0, description="Drawdown from the equity peak (%) that is a WARNING."
    )
    drawdown_critical_pct: Decimal = Field(
        Decimal(10), ge=0, description="Drawdown from the equity peak (%) that is CRITICAL."
    )
    daily_loss_limit: Decimal = Field(
        Decimal(1000), ge=0, description="Realised + unrealised loss today that is CRITICAL."
    )
    max_gross_exposure: Decimal = Field(
        Decimal(100000),
        ge=0,
        description="Gross exposure (quote currency) above which risk is CRITICAL; an order "
        "that could take it there, counting orders in flight, is refused (RISK_EXPOSURE).",
    )
    max_open_orders: int = Field(
        50,
        ge=0,
        description="Open orders above which risk is CRITICAL; an order that adds risk is "
        "refused (RISK_OPEN_ORDERS) when it would take the orders resting or in flight above it.",
    )
    permit_ttl_seconds: float = Field(
        30,
        gt=0,
        le=3600,
        description="Decide API: an ALLOWED intent holds its place under the exposure and "
        "open-orders caps this long unless the bot reports its order (PERMIT_EXPIRED).",
        json_schema_extra=_verify("a decide answer's `expires_at` is this far ahead"),
    )
    price_collar_pct: Decimal = Field(
        Decimal(5),
        gt=0,
        description="A LIMIT order that adds risk is refused (RISK_PRICE_COLLAR) when its price "
        "is further than this % from the last trade price, or no last price is known.",
        json_schema_extra=_verify("a LIMIT signal priced 10% off the market is REFUSED"),
    )
    max_order_notional: Decimal = Field(
        Decimal(25000),
        gt=0,
        description="Largest notional (quote currency) of one order that adds risk; above it "
        "the order is refused (RISK_ORDER_NOTIONAL).",
    )
    max_orders_per_symbol: int = Field(
        10,
        ge=1,
        description="Orders per symbol within the rate window above which an order that adds "
        "risk is refused (RISK_ORDER_RATE); exits are never throttled.",
    )
    max_orders_per_account: int = Field(
        30,
        ge=1,
        description="Orders in total within the rate window above which an order that adds "
        "risk is refused (RISK_ORDER_RATE).",
    )
    order_rate_window_seconds: float = Field(
        1,
        gt=0,
        description="The window of the order rate limits (monotonic time; on "
        "PostgreSQL, the wall clock every instance shares).",
    )
    duplicate_order_window_seconds: float = Field(
        2,
        ge=0,
        description="The same symbol, side and quantity from another signal_id within this "
        "window is refused (RISK_DUPLICATE_ORDER); 0 switches the rule off.",
    )
    paper_partial_fill_ratio: Decimal = Field(
        Decimal(1), gt=0, le=1, description="Paper exchange: fraction of each order filled."
    )
    paper_latency_ms: int = Field(0, ge=0, description="Paper exchange: added latency per call.")
    paper_quote_balance: Decimal = Field(
        Decimal(100000), ge=0, description="Paper exchange: starting quote currency balance."
    )
    audit_checkpoint_key: Path | None = Field(
        None,
        description="Ed25519 private key (PEM) that signs audit checkpoints.",
        json_schema_extra=_verify("`tradeguard audit checkpoint` prints a signature"),
    )
    log_level: str = Field("INFO", description="Log level (DEBUG, INFO, WARNING, ERROR).")
    alert_urls: SecretStr | None = Field(
        None,
        description="Alert targets: apprise URLs, comma-separated (json://, tgram://, slack://, "
        "mailto://, ntfy://...); they carry tokens, so only their schemes are ever shown.",
        json_schema_extra=_verify("`tradeguard alerts test` exits 0 and each target received it"),
    )
    alert_min_severity: Literal["INFO", "WARNING", "CRITICAL"] = Field(
        "INFO", description="Alerts below this severity (INFO, WARNING, CRITICAL) are not sent."
    )
    alert_fold_window_seconds: float = Field(
        60, ge=0, description="Repeats of one alert condition inside this window are folded."
    )
    alert_timeout_seconds: float = Field(
        3, gt=0, le=30, description="Connect and read timeout of one delivery to one alert target."
    )
    alert_retry_attempts: int = Field(
        3, ge=1, le=10, description="Delivery attempts per alert and target (backoff between)."
    )
    alert_queue_size: int = Field(
        256, ge=1, description="Alerts waiting per target; past it new alerts are dropped, counted."
    )
    public_url: str | None = Field(
        None,
        description="Base URL operators open (alerts link its /v1/status); http://HOST:PORT "
        "when unset.",
        json_schema_extra=_verify("an alert's status link opens"),
    )

    @field_validator("exchange")
    @classmethod
    def _exchange_known(cls, value: str) -> str:
        if value in ("paper", "valr") or (value.startswith("ccxt:") and len(value) > 5):
            return value
        raise ValueError("must be paper, valr or ccxt:<exchange id>")

    @field_validator("database_url")
    @classmethod
    def _database_known(cls, value: str) -> str:
        if value.startswith(("sqlite:///", "postgresql://", "postgres://", "memory://")):
            return value
        raise ValueError("must start with sqlite:///, postgresql:// or memory://")

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> Settings:
        if self.drawdown_warning_pct > self.drawdown_critical_pct:
            raise ValueError("drawdown_warning_pct must not exceed drawdown_critical_pct")
        return self

    @property
    def is_live(self) -> bool:
        """True in LIVE mode."""
        return self.execution_mode is ExecutionMode.LIVE


def _unknown_environment(environ: Mapping[str, str]) -> list[str]:
    known = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
    return sorted(
        key
        for key in environ
        if key.upper().startswith(ENV_PREFIX)
        and key.upper() not in known
        and key.upper() not in META_VARIABLES
    )


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Read and validate the settings, raising ``ConfigurationError`` naming the bad key."""
    env = dict(os.environ if environ is None else environ)
    unknown = _unknown_environment(env)
    if unknown:
        raise ConfigurationError(
            ErrorCode.CONFIG_INVALID,
            f"unknown setting {unknown[0]}",
            hint="remove it or correct its spelling; see the runbook's environment table",
        )
    values: dict[str, Any] = {}
    config_path = env.get(CONFIG_ENV)
    if config_path:
        try:
            values.update(tomllib.loads(Path(config_path).read_text(encoding="utf-8")))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigurationError(
                ErrorCode.CONFIG_INVALID, f"cannot read {CONFIG_ENV}={config_path}: {exc}"
            ) from exc
    values.update(overrides)
    try:
        if environ is None:
            return Settings(**values)
        saved = dict(os.environ)
        try:
            os.environ.clear()
            os.environ.update(env)
            return Settings(**values)
        finally:
            os.environ.clear()
            os.environ.update(saved)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        raise ConfigurationError(
            ErrorCode.CONFIG_INVALID,
            f"{ENV_PREFIX}{where.upper()}: {first['msg']}",
            hint="fix the named setting and start again",
        ) from exc


def check_live_preconditions(settings: Settings) -> list[str]:
    """Refuse LIVE without its safeguards; return warnings for unconfigured optional ones."""
    if not settings.is_live:
        return []
    if settings.operator_token is None:
        raise LiveModeRefusedError(
            ErrorCode.LIVE_MODE_REFUSED,
            "LIVE mode needs TRADEGUARD_OPERATOR_TOKEN",
            hint="set an operator token so the kill switch API is usable",
        )
    if not settings.policy_enabled and not settings.allow_policy_bypass_in_live:
        raise LiveModeRefusedError(
            ErrorCode.LIVE_MODE_REFUSED,
            "LIVE mode refuses to start with the policy disabled",
            hint="set TRADEGUARD_POLICY_ENABLED=true",
        )
    if settings.exchange == "paper":
        raise LiveModeRefusedError(
            ErrorCode.LIVE_MODE_REFUSED,
            "LIVE mode needs a real exchange adapter (valr or ccxt:<id>), not paper",
        )
    if settings.exchange_api_key is None or settings.exchange_api_secret is None:
        raise LiveModeRefusedError(
            ErrorCode.LIVE_MODE_REFUSED,
            "LIVE mode needs TRADEGUARD_EXCHANGE_API_KEY and TRADEGUARD_EXCHANGE_API_SECRET",
            hint="set both exchange credentials (never print them)",
        )
    warnings = []
    if settings.budget_report is None:
        warnings.append("TRADEGUARD_BUDGET_REPORT is not configured: budget gate not enforced")
    if settings.event_feed_url is None:
        warnings.append("TRADEGUARD_EVENT_FEED_URL is not configured: feed check not enforced")
    return warnings
