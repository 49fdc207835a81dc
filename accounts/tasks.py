"""Tasks of the accounts area, run by the worker; the scheduler's defaults name them."""

from django_tasks import task

from accounts.brokers.services import broker_sessions_expire


@task
def expire_broker_sessions() -> int:
    """Deactivate broker sessions past their expiry; mark their credentials expired."""
    return broker_sessions_expire()
