"""The portfolio engine: the ledger fold and performance maths of SPEC §4, in plain Python.

Nothing here knows about Django: inputs and outputs are dataclasses and Decimals, so the
services, the snapshot rebuild, the API and the tests all run the same code.
"""

from portfolio.engine.errors import (
    EngineError,
    EngineValidationError,
    LedgerOrderError,
    MissingFxRateError,
    OversellError,
)
from portfolio.engine.ledger import (
    Holding,
    LedgerState,
    LedgerSummary,
    PositionState,
    Split,
    SplitCalendar,
    TransactionRecord,
    TransactionType,
    ledger_advance,
    ledger_fold,
    ledger_fold_all,
    ledger_new,
    ledger_state_from_summary,
    ledger_summary,
)
from portfolio.engine.market import FxTable, PriceTable
from portfolio.engine.performance import (
    Calendar,
    InstrumentInfo,
    Performance,
    PositionFigures,
    PositionPerformance,
    PriceSource,
    Snapshot,
    SnapshotRun,
    performance_from_snapshots,
    portfolio_performance,
    snapshots_build,
    valuation_days,
)
from portfolio.engine.returns import (
    daily_returns,
    max_drawdown,
    sharpe_ratio,
    time_weighted_return,
    volatility,
    xirr,
)

__all__ = [
    "Calendar",
    "EngineError",
    "EngineValidationError",
    "FxTable",
    "Holding",
    "InstrumentInfo",
    "LedgerOrderError",
    "LedgerState",
    "LedgerSummary",
    "MissingFxRateError",
    "OversellError",
    "Performance",
    "PositionFigures",
    "PositionPerformance",
    "PositionState",
    "PriceSource",
    "PriceTable",
    "Snapshot",
    "SnapshotRun",
    "Split",
    "SplitCalendar",
    "TransactionRecord",
    "TransactionType",
    "daily_returns",
    "ledger_advance",
    "ledger_fold",
    "ledger_fold_all",
    "ledger_new",
    "ledger_state_from_summary",
    "ledger_summary",
    "max_drawdown",
    "performance_from_snapshots",
    "portfolio_performance",
    "sharpe_ratio",
    "snapshots_build",
    "time_weighted_return",
    "valuation_days",
    "volatility",
    "xirr",
]
