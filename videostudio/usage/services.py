"""Points: what each job cost, the provider's ledger, the team balance, budgets.

One key means one bill, and money has an order of truth: the cost the provider
reports on a completed job; else a charge from its points history attributed to
the job beyond doubt (`matching` holds the rules); else an estimate from the
catalog's price, always labelled as one. A job the provider failed cost nothing.
A charge that cannot be told apart stays unattributed and visible, so the books
(job costs + unattributed charges = the provider's ledger) can always be checked.

The work is split by concern (`costs`, `balance`, `ledger`); this module is the
usage app's public face, so callers need not know which holds what.
"""

from __future__ import annotations

from videostudio.usage.balance import (
    balance_refresh,
    balance_refresh_soon,
    credits_note_exhausted,
    credits_refusal,
)
from videostudio.usage.costs import (
    budget_reserve,
    budget_state,
    cost_hold,
    costs_recorded,
    highest_rate,
    month_start,
    rate_learn,
)
from videostudio.usage.ledger import (
    HISTORY_DAYS,
    SETTLE_LAG,
    LedgerReport,
    MatchReport,
    ledger_match,
    ledger_store,
    ledger_sync,
    unsettled_evidence,
    unsettled_resolve,
)
from videostudio.videos.points import Refused

__all__ = [
    "HISTORY_DAYS",
    "SETTLE_LAG",
    "LedgerReport",
    "MatchReport",
    "Refused",
    "balance_refresh",
    "balance_refresh_soon",
    "budget_reserve",
    "budget_state",
    "cost_hold",
    "costs_recorded",
    "credits_note_exhausted",
    "credits_refusal",
    "highest_rate",
    "ledger_match",
    "ledger_store",
    "ledger_sync",
    "month_start",
    "rate_learn",
    "unsettled_evidence",
    "unsettled_resolve",
]
