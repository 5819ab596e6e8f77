"""The order controls as the service configures them from settings, over the webhook."""

from __future__ import annotations

from tests.service_support import make_settings, post_signal, service, signal_body
from tradeguard.audit.records import AuditTable


def _order_rows(container, correlation_id: str) -> list[tuple[str, str | None]]:
    rows = container.audit_store.rows(AuditTable.ORDER, correlation_id=correlation_id)
    return [(row["event"], row["code"]) for row in rows]


def test_default_settings_refuse_a_limit_far_from_the_market_and_a_double_send() -> None:
    with service() as (container, client):
        far = post_signal(client, signal_body(order_type="LIMIT", price="75000")).json()
        first = post_signal(client, signal_body(quantity="0.013")).json()
        again = post_signal(client, signal_body(quantity="0.013")).json()
        rows = {
            a["refusal_code"]: _order_rows(container, a["correlation_id"]) for a in (far, again)
        }
    assert far["decision"] == "ALLOW" and far["refusal_code"] == "RISK_PRICE_COLLAR"
    assert first["outcome"] == "EXECUTED"
    assert again["refusal_code"] == "RISK_DUPLICATE_ORDER"
    assert rows == {
        "RISK_PRICE_COLLAR": [("REFUSED", "RISK_PRICE_COLLAR")],
        "RISK_DUPLICATE_ORDER": [("REFUSED", "RISK_DUPLICATE_ORDER")],
    }


def test_the_settings_set_the_limits() -> None:
    settings = make_settings(max_order_notional="100", duplicate_order_window_seconds=0)
    with service(settings) as (_container, client):
        big = post_signal(client, signal_body(quantity="0.01")).json()
        dust = post_signal(client, signal_body(quantity="0.000000001")).json()
    assert big["refusal_code"] == "RISK_ORDER_NOTIONAL"
    assert dust["refusal_code"] == "ORDER_BELOW_MINIMUM"
