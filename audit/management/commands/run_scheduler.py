"""`manage.py run_scheduler`: enqueue due scheduled jobs every poll interval until stopped."""

import logging
import signal
import threading
from types import FrameType

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import close_old_connections

from audit.services.scheduler import (
    process_instance,
    scheduled_jobs_ensure_defaults,
    scheduler_pass,
)

logger = logging.getLogger("audit.scheduler")

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Command(BaseCommand):
    help = (
        "Run the scheduler: each pass writes its heartbeat and enqueues every due scheduled job "
        "once. Any number may run at once; SIGTERM or SIGINT stops it after the current pass."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="Run one pass, then exit.")
        parser.add_argument(
            "--interval",
            type=float,
            default=None,
            help="Seconds between passes (default: the SCHEDULER_POLL_SECONDS setting).",
        )

    def handle(self, *args, once: bool, interval: float | None, **options) -> None:
        poll = settings.SCHEDULER_POLL_SECONDS if interval is None else interval
        if not poll > 0:
            raise CommandError(f"The poll interval must be a positive number of seconds: {poll}")
        instance = process_instance()
        stop = threading.Event()

        def request_stop(signum: int, frame: FrameType | None) -> None:
            logger.info("Scheduler %s: %s received, stopping.", instance, signal.strsignal(signum))
            stop.set()

        previous = {sig: signal.signal(sig, request_stop) for sig in STOP_SIGNALS}
        try:
            scheduled_jobs_ensure_defaults()
            self.stdout.write(f"Scheduler {instance} started, one pass every {poll:g} s.")
            while not stop.is_set():
                passed = self._pass(instance, options["verbosity"])
                if once:
                    if not passed:
                        raise CommandError("The scheduler pass failed; the log says why.")
                    break
                stop.wait(poll)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        self.stdout.write(f"Scheduler {instance} stopped.")

    def _pass(self, instance: str, verbosity: int) -> bool:
        # Long-running process: drop connections the database closed, like a request would.
        close_old_connections()
        try:
            executions = scheduler_pass(instance=instance)
        except Exception:
            # The database or the task backend may come back: the next pass retries, where a
            # dead scheduler would silently stop every scheduled job.
            logger.exception("Scheduler %s: pass failed, retrying at the next one.", instance)
            return False
        if verbosity > 1:
            for execution in executions:
                self.stdout.write(f"Enqueued {execution}")
        return True
