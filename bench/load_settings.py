"""Settings of the load benchmark's server (bench/load.py): the app's own, plus one route.

The route is a bare Django JSON view, the baseline a paginated API list is compared with. It is
unauthenticated, so it exists only under these settings, which nothing but the benchmark uses:
production's URLconf (`trading_lab.urls`) never has it.
"""

from trading_lab.settings import *  # noqa: F403 (the benchmark serves the app as configured)

ROOT_URLCONF = "bench.load_urls"
