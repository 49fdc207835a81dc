"""Rows of the backtest admin models, for the admin walk in tests/ops/test_admin.py."""

from decimal import Decimal

from bots.services import signal_validation_record
from tests.bots.backtest_builders import finished_backtest, priced_instrument, queued_backtest


def backtest_rows(user) -> None:
    """A finished backtest, a queued one, and a signal validation of `user`."""
    instrument = priced_instrument(symbol="BTROWS")
    finished_backtest(user, instrument, name="Rows backtest")
    queued_backtest(user, instrument)
    signal_validation_record(
        user=user,
        model_type="rows-model",
        signal_type="momentum",
        accuracy=Decimal("0.6"),
        precision=Decimal("0.6"),
        recall=Decimal("0.6"),
        f1=Decimal("0.6"),
        sample_size=50,
        parameters={"window": 14},
    )
