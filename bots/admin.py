"""Staff tools for paper trading, bots and backtests; each area has its own admin module."""

from bots import admin_backtests, admin_bots, admin_paper  # noqa: F401 (registers the admins)
