"""The real task worker inside a test: `db_worker` runs the queue once, in this process."""

import signal

from django.core.management import call_command

# db_worker installs handlers for these to stop gracefully; the test runner gets its own back.
WORKER_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT)


def run_worker() -> None:
    """Run `db_worker` until the queue is empty, then give the test runner its signals back."""
    saved = {sig: signal.getsignal(sig) for sig in WORKER_SIGNALS}
    try:
        call_command(
            "db_worker", batch=True, reload=False, startup_delay=False, interval=0, verbosity=0
        )
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
