"""Trader pages of paper trading, bots and backtests (SPEC §7); each area in its own module."""

from bots import backtest_views, bot_views, paper_views

urlpatterns = [
    *paper_views.urlpatterns,
    *bot_views.urlpatterns,
    *backtest_views.urlpatterns,
]
