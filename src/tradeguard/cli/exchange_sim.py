"""``tradeguard exchange-sim``: run the loopback exchange simulator in the foreground."""

from __future__ import annotations

import threading

import typer

from ..codes import ErrorCode
from ..errors import ConfigurationError
from ..exchange.simulator import DEFAULT_API_KEY, DEFAULT_API_SECRET, ExchangeSimulator
from .common import handled, print_json


def _serve(simulator: ExchangeSimulator, stop: threading.Event) -> None:
    try:
        base_url = simulator.start()
    except OSError as exc:
        raise ConfigurationError(
            ErrorCode.CONFIG_INVALID, f"cannot listen: {exc}", hint="choose a free --port"
        ) from exc
    print_json(
        {
            "event": "exchange_simulator_ready",
            "base_url": base_url,
            "valr_api_key": simulator.api_key,
            "valr_api_secret": simulator.api_secret,
            "note": "test-only credentials; faults: POST /_sim/faults, orders: GET /_sim/orders",
        }
    )
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        simulator.stop()


def register(app: typer.Typer) -> None:
    """Add ``exchange-sim`` to ``app``."""

    @app.command("exchange-sim")
    @handled
    def exchange_sim(
        host: str = typer.Option("127.0.0.1", help="Address to listen on."),
        port: int = typer.Option(8765, help="Port to listen on (0 picks a free one)."),
        api_key: str = typer.Option(DEFAULT_API_KEY, help="API key the simulator accepts."),
        api_secret: str = typer.Option(
            DEFAULT_API_SECRET, help="API secret the simulator verifies signatures with."
        ),
        seed: int = typer.Option(0, help="Seed of the simulated market's random walks."),
    ) -> None:
        """Run the exchange simulator (VALR + Binance spot subsets) until Ctrl-C."""
        simulator = ExchangeSimulator(
            host=host, port=port, api_key=api_key, api_secret=api_secret, seed=seed
        )
        _serve(simulator, threading.Event())
