"""factory_boy factories shared by the tests."""

import datetime
from decimal import Decimal

import factory

from accounts.models import Broker, BrokerCredential, BrokerSession, User
from portfolio.models import (
    AssetClass,
    FxRate,
    Instrument,
    Portfolio,
    PriceBar,
    Split,
    Transaction,
    TransactionType,
)
from portfolio.services import TransactionInput, portfolio_create, transaction_create

PASSWORD = "Correct-Horse-Battery-9"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"trader{n}@example.com")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):  # noqa: N805
        if create:
            obj.save()


class BrokerCredentialFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BrokerCredential

    user = factory.SubFactory(UserFactory)
    broker = Broker.BINANCE
    label = factory.Sequence(lambda n: f"account {n}")
    api_key = factory.Sequence(lambda n: f"api-key-{n:04d}-Zq81xVb0")
    api_secret = factory.Sequence(lambda n: f"api-secret-{n:04d}-Wp3m9Lk2")


class BrokerSessionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BrokerSession

    credential = factory.SubFactory(BrokerCredentialFactory)
    access_token = factory.Sequence(lambda n: f"access-token-{n:04d}-Hy7Rt2Qa")
    refresh_token = factory.Sequence(lambda n: f"refresh-token-{n:04d}-Ux4Ne8Jd")


class InstrumentFactory(factory.django.DjangoModelFactory):
    """A shared instrument (pass `owner=` for a private one)."""

    class Meta:
        model = Instrument

    symbol = factory.Sequence(lambda n: f"SYM{n}")
    exchange = ""
    name = factory.LazyAttribute(lambda o: f"{o.symbol} Inc.")
    currency = "USD"
    asset_class = AssetClass.EQUITY
    owner = None


class PriceBarFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PriceBar

    instrument = factory.SubFactory(InstrumentFactory)
    date = factory.Sequence(lambda n: datetime.date(2024, 1, 1) + datetime.timedelta(days=n))
    close = Decimal("100")


class FxRateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FxRate

    base = "EUR"
    quote = "USD"
    date = datetime.date(2024, 1, 1)
    rate = Decimal("1.1")


class SplitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Split

    instrument = factory.SubFactory(InstrumentFactory)
    date = datetime.date(2024, 6, 3)
    numerator = Decimal(2)
    denominator = Decimal(1)


class PortfolioFactory(factory.django.DjangoModelFactory):
    """A portfolio made through `portfolio_create`, so its derived rows exist as in the app."""

    class Meta:
        model = Portfolio

    user = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"Portfolio {n}")
    base_currency = "USD"

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return portfolio_create(**kwargs)


class TransactionFactory(factory.django.DjangoModelFactory):
    """A transaction made through `transaction_create` (holdings and snapshots follow)."""

    class Meta:
        model = Transaction

    portfolio = factory.SubFactory(PortfolioFactory)
    type = TransactionType.BUY
    instrument = factory.SubFactory(
        InstrumentFactory, currency=factory.SelfAttribute("..portfolio.base_currency")
    )
    date = datetime.date(2024, 1, 2)
    quantity = Decimal(1)
    price = Decimal(10)
    fee = Decimal(0)

    @classmethod
    def _create(cls, model_class, *args, portfolio, **kwargs):
        return transaction_create(portfolio=portfolio, data=TransactionInput(**kwargs))
