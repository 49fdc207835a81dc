"""Tasks of the bots area, run by `manage.py db_worker` (or whichever task backend is set)."""

from datetime import datetime

from django_tasks import task

from bots import demo
from bots.services.runner import bot_tick_run


@task
def bot_tick(bot_id: int, scheduled_at: str) -> str:
    """Run one scheduled tick of a bot; a duplicate delivery of the same tick does nothing."""
    outcome = bot_tick_run(bot_id=bot_id, scheduled_at=datetime.fromisoformat(scheduled_at))
    if outcome.duplicate:
        return "duplicate"
    return outcome.tick.status if outcome.tick is not None else "gone"


@task
def demo_quotes_refresh() -> int:
    """Demo only: move today's bar of synthetic instruments running bots trade (see bots.demo)."""
    return demo.demo_quotes_refresh()
