"""Settings of the scheduler and worker processes the runner's crash tests start.

The project's settings with one change: a `1m` bot ticks every second, so a test sees dozens of
ticks, kills and restarts within its time budget. Everything else (the code, the database, the
task backend) is exactly what production runs.
"""

from trading_lab.settings import *  # noqa: F403

BOTS_INTERVAL_SECONDS = {"1m": 1}
