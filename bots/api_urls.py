"""Bots routes of API v1 (no trailing slashes, SPEC §6); each area keeps its own module."""

from bots import backtest_apis, bot_apis, paper_apis

urlpatterns = [
    *paper_apis.urlpatterns,
    *bot_apis.urlpatterns,
    *backtest_apis.urlpatterns,
]
