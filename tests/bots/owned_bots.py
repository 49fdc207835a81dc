"""Makers and bodies of bots for the ownership walker's bot routes (tests/test_ownership.py).

Bots are made through the services on one of the user's own paper accounts and private
instruments, in the status each route needs to serve its owner.
"""

import itertools

from bots.models import Bot, PaperAccount
from bots.services import bot_create, bot_pause, bot_start
from tests.bots.owned import DCA_CONFIG, _instrument, paper_account

_serial = itertools.count(1)


def bot(user, seed) -> Bot:
    """A stopped bot (its account can fund it)."""
    return bot_create(
        user=user,
        name=f"{seed.mark('walk-bot')}-{next(_serial)}",
        account=paper_account(user, seed),
        instrument=_instrument(user, seed),
        interval="1h",
        config=DCA_CONFIG,
    )


def running_bot(user, seed) -> Bot:
    made = bot(user, seed)
    bot_start(bot=made)
    return made


def paused_bot(user, seed) -> Bot:
    made = running_bot(user, seed)
    return bot_pause(bot=made)


def bot_body(world) -> dict:
    """A new bot on the world user's own account and private instrument."""
    return {
        "name": world.seed.mark(f"api-bot-{next(_serial)}"),
        "account": world.rows["bots.PaperAccount"].pk,
        "symbol": world.rows["portfolio.Instrument"].symbol,
        "interval": "1h",
        "config": DCA_CONFIG,
    }


def bot_update_body(made: Bot) -> dict:
    return {
        "name": f"{made.name}-renamed",
        "symbol": made.instrument.symbol,
        "interval": "4h",
        "config": DCA_CONFIG,
    }


def bot_body_naming(account: PaperAccount) -> dict:
    """A bot body naming `account` (whoever's it is) on the account owner's instrument."""
    symbol = (
        Bot.objects.filter(account__user=account.user)
        .values_list("instrument__symbol", flat=True)
        .first()
    )
    return {
        "name": f"body-id-bot-{next(_serial)}",
        "account": account.pk,
        "symbol": symbol or "BOT1",
        "interval": "1h",
        "config": DCA_CONFIG,
    }


def preview_body(account: PaperAccount) -> dict:
    return {"config": DCA_CONFIG, "account": account.pk}


def bot_form(world) -> dict:
    """The bot page form for a new bot on the world user's own account and instrument."""
    form = {
        "name": world.seed.mark(f"page-bot-{next(_serial)}"),
        "account": world.rows["bots.PaperAccount"].pk,
        "instrument": world.rows["portfolio.Instrument"].pk,
        "interval": "1h",
    }
    return {**form, **{key: "" if value is None else value for key, value in DCA_CONFIG.items()}}


def bot_edit_form(made: Bot) -> dict:
    form = {
        "name": f"{made.name}-edited",
        "account": made.account_id,
        "instrument": made.instrument_id,
        "interval": "4h",
    }
    return {**form, **{key: "" if value is None else value for key, value in DCA_CONFIG.items()}}
