"""A corrupt budget report halts trading and is written to the audit trail (SPEC §3, §8)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from tradeguard.audit.records import AuditTable
from tradeguard.bootstrap import BUDGET_ACTOR, build_container
from tradeguard.policy import BudgetSignal

from ...service_support import make_settings


def test_corrupt_budget_report_is_recorded_once_in_operator_audit(tmp_path):
    report = tmp_path / "budget.json"
    report.write_text('{"generated_at": "2026-', encoding="utf-8")  # truncated
    container = build_container(
        make_settings(f"sqlite:///{tmp_path / 'a.db'}", budget_report=str(report))
    )
    try:
        assert container.budget.refresh().signal is BudgetSignal.HARD_STOP
        container.budget.refresh()  # the same corrupt content is recorded once
        rows = list(container.audit_store.rows(AuditTable.OPERATOR))
        corrupt = [r for r in rows if r["action"] == "BUDGET_DATA_CORRUPT"]
        assert len(corrupt) == 1
        assert corrupt[0]["operator_id"] == BUDGET_ACTOR
        report.write_text(
            json.dumps(
                {
                    "generated_at": datetime.now(UTC).isoformat(),
                    "currency": "USD",
                    "monthly_budget": 1000,
                    "month_to_date_spend": 10,
                    "recommended_daily_spend": 50,
                    "today_spend": 1,
                    "risk_level": "OK",
                }
            ),
            encoding="utf-8",
        )
        assert container.budget.refresh().signal is BudgetSignal.ALLOW
        assert container.audit_store.verify().ok
    finally:
        container.close()
