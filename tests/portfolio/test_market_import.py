"""Price and FX imports: all-or-nothing, idempotent, CHECK rules as line errors, revaluation."""

from datetime import date
from decimal import Decimal

import pytest
from auditlog.models import LogEntry
from django.db.models import CheckConstraint

from audit.models import ActivityAction, ActivityLog
from portfolio.csv_utils import CsvFileError
from portfolio.models import FxRate, Instrument, PortfolioSnapshot, PriceBar
from portfolio.services import TransactionInput, portfolio_create, transaction_create
from portfolio.services.market import (
    BAR_RULES,
    fx_rates_import_csv,
    price_bars_import_csv,
)

pytestmark = pytest.mark.django_db


HEADER = "symbol,exchange,date,open,high,low,close,adjusted close,volume,dividend,split coefficient"


def prices_csv(*lines: str, header: str = HEADER) -> bytes:
    return "\n".join([header, *lines, ""]).encode()


def import_prices(content: bytes, **kwargs):
    return price_bars_import_csv(content=content, **kwargs)


def import_fx(content: bytes, **kwargs):
    return fx_rates_import_csv(content=content, **kwargs)


def bars() -> list[tuple]:
    return list(
        PriceBar.objects.order_by("instrument__symbol", "date").values_list(
            "instrument__symbol", "date", "open", "high", "low", "close", "volume"
        )
    )


@pytest.fixture
def aapl() -> Instrument:
    return Instrument.objects.create(symbol="AAPL", exchange="NASDAQ", currency="USD")


def test_the_python_bar_rules_cover_every_check_constraint_of_price_bar():
    constraints = {c.name for c in PriceBar._meta.constraints if isinstance(c, CheckConstraint)}

    assert {rule.constraint for rule in BAR_RULES} == constraints


def test_import_creates_bars_for_known_instruments(aapl):
    result = import_prices(
        prices_csv(
            "AAPL,NASDAQ,2024-01-02,185,186.5,183.9,185.6,185.6,1000,0,1",
            "AAPL,NASDAQ,2024-01-03,185.6,186,183,184.25,,,,",
        )
    )

    assert (result.created, result.updated, result.unchanged) == (2, 0, 0)
    assert bars() == [
        ("AAPL", date(2024, 1, 2), Decimal(185), Decimal("186.5"), Decimal("183.9"),
         Decimal("185.6"), Decimal(1000)),
        ("AAPL", date(2024, 1, 3), Decimal("185.6"), Decimal(186), Decimal(183),
         Decimal("184.25"), Decimal(0)),
    ]  # fmt: skip
    second = PriceBar.objects.get(date=date(2024, 1, 3))
    assert (second.dividend, second.split_coefficient, second.adjusted_close) == (0, 1, None)


def test_reimporting_the_same_file_changes_nothing(aapl):
    content = prices_csv("AAPL,NASDAQ,2024-01-02,185,186.5,183.9,185.6,185.6,1000,0,1")
    import_prices(content)
    before = list(PriceBar.objects.values())
    history = LogEntry.objects.count()

    result = import_prices(content)

    assert (result.created, result.updated, result.unchanged) == (0, 0, 1)
    assert list(PriceBar.objects.values()) == before
    assert LogEntry.objects.count() == history


def test_a_changed_value_updates_the_existing_bar(aapl):
    import_prices(prices_csv("AAPL,NASDAQ,2024-01-02,185,186.5,183.9,185.6,185.6,1000,0,1"))
    bar_id = PriceBar.objects.get().pk

    result = import_prices(
        prices_csv(
            "AAPL,NASDAQ,2024-01-02,185,186.5,183.9,186.1,186.1,1200,0,1",
            "AAPL,NASDAQ,2024-01-03,,,,187,,,,",
        )
    )

    assert (result.created, result.updated, result.unchanged) == (1, 1, 0)
    bar = PriceBar.objects.get(date=date(2024, 1, 2))
    assert (bar.pk, bar.close, bar.volume) == (bar_id, Decimal("186.1"), Decimal(1200))


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("AAPL,NASDAQ,2024-01-02,186,187,185.5,185,,,,", 'column "low": low 185.5 is above close'),
        ("AAPL,NASDAQ,2024-01-02,183,184,,185,,,,", 'column "high": close 185 is above high'),
        ("AAPL,NASDAQ,2024-01-02,183,186,184,185,,,,", 'column "low": low 184 is above open'),
        ("AAPL,NASDAQ,2024-01-02,187,186,,185,,,,", 'column "high": open 187 is above high'),
        ("AAPL,NASDAQ,2024-01-02,,,,0,,,,", 'column "close": must be greater than zero'),
        ("AAPL,NASDAQ,2024-01-02,-1,,,5,,,,", 'column "open": must be greater than zero'),
        ("AAPL,NASDAQ,2024-01-02,,,,5,-5,,,", 'column "adjusted_close": must be greater'),
        ("AAPL,NASDAQ,2024-01-02,,,,5,,-1,,", 'column "volume": must not be negative'),
        ("AAPL,NASDAQ,2024-01-02,,,,5,,,-0.1,", 'column "dividend": must not be negative'),
        ("AAPL,NASDAQ,2024-01-02,,,,5,,,,0", 'column "split_coefficient": must be greater'),
        ("AAPL,NASDAQ,2024-01-02,,,,5.12345678901,,,,", 'column "close": Ensure that there'),
        ("AAPL,NASDAQ,2024-13-02,,,,5,,,,", 'column "date": "2024-13-02" is not a date'),
        ("AAPL,NASDAQ,2024-01-02,,,,five,,,,", 'column "close": "five" is not a number'),
        ("AAPL,NASDAQ,2024-01-02,,,,,,,,", 'column "close": a number is required'),
        ("MSFT,NASDAQ,2024-01-02,,,,5,,,,", 'column "symbol": unknown instrument "MSFT.NASDAQ"'),
    ],
)
def test_a_bad_line_is_refused_with_its_line_and_column_and_nothing_is_written(
    aapl, line, expected
):
    content = prices_csv("AAPL,NASDAQ,2024-01-01,,,,180,,,,", line)

    with pytest.raises(CsvFileError) as caught:
        import_prices(content)

    assert len(caught.value.extra["file"]) == 1
    assert caught.value.extra["file"][0].startswith(f"line 3, {expected}")
    assert PriceBar.objects.count() == 0


def test_every_bad_line_is_listed_in_file_order(aapl):
    content = prices_csv(
        "AAPL,NASDAQ,2024-01-02,,,,0,,,,",
        "AAPL,NASDAQ,2024-01-03,,,,5,,,,",
        "AAPL,NASDAQ,2024-01-03,,,,6,,,,",
        "NOPE,,2024-01-04,,,,5,,,,",
    )

    with pytest.raises(CsvFileError) as caught:
        import_prices(content)

    assert caught.value.extra["file"] == [
        'line 2, column "close": must be greater than zero, not 0.',
        'line 4, column "date": AAPL on 2024-01-03 is already on line 3.',
        'line 5, column "symbol": unknown instrument "NOPE"; add a "currency" column to create it.',
    ]
    assert not PriceBar.objects.exists()


def test_a_currency_column_creates_the_shared_instruments_the_file_names(aapl):
    content = prices_csv(
        "NOVN,SIX,2022-04-11,87.8,CHF,Novartis,equity",
        "NOVN,SIX,2022-04-12,88.1,CHF,Novartis,equity",
        "AAPL,NASDAQ,2022-04-11,165.75,USD,,",
        header="symbol,exchange,date,close,currency,name,asset class",
    )

    result = import_prices(content)

    novn = Instrument.objects.get(symbol="NOVN")
    assert (novn.exchange, novn.currency, novn.name, novn.owner) == ("SIX", "CHF", "Novartis", None)
    assert result.instruments_created == ("NOVN.SIX",)
    assert result.created == 3
    assert Instrument.objects.count() == 2


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (["AAPL,NASDAQ,2024-01-02,1,EUR,,"], 'line 2, column "currency": AAPL.NASDAQ is priced'),
        (["NEW,,2024-01-02,1,XYZ,,"], 'line 2, column "currency": '),
        (["NEW,,2024-01-02,1,USD,,stocks"], 'line 2, column "asset_class": "stocks" is not one'),
        (
            ["NEW,,2024-01-02,1,USD,,", "NEW,,2024-01-03,1,EUR,,"],
            'line 3, column "currency": NEW is USD on line 2, not EUR.',
        ),
    ],
)
def test_instrument_columns_that_contradict_are_refused(aapl, lines, expected):
    content = prices_csv(*lines, header="symbol,exchange,date,close,currency,name,asset_class")

    with pytest.raises(CsvFileError) as caught:
        import_prices(content)

    assert caught.value.extra["file"][0].startswith(expected)
    assert Instrument.objects.count() == 1
    assert not PriceBar.objects.exists()


def test_a_dry_run_reports_what_would_change_and_writes_nothing(aapl):
    import_prices(prices_csv("AAPL,NASDAQ,2024-01-02,,,,185,,,,"))
    content = prices_csv(
        "AAPL,NASDAQ,2024-01-02,186,USD",
        "NEW,,2024-01-02,5,EUR",
        header="symbol,exchange,date,close,currency",
    )
    before = bars()

    result = import_prices(content, dry_run=True)

    assert (result.created, result.updated, result.dry_run) == (1, 1, True)
    assert result.instruments_created == ("NEW",)
    assert bars() == before
    assert not Instrument.objects.filter(symbol="NEW").exists()


def test_a_staff_import_lands_in_their_activity_log(aapl, staff_user):
    import_prices(prices_csv("AAPL,NASDAQ,2024-01-02,,,,185,,,,"), user=staff_user)

    row = ActivityLog.objects.get(user=staff_user, action=ActivityAction.PRICES_IMPORTED)
    assert row.details["created"] == 1


def test_new_prices_revalue_the_portfolios_that_hold_the_instrument(aapl, user):
    import_prices(prices_csv("AAPL,NASDAQ,2024-01-02,,,,100,,,,"))
    portfolio = portfolio_create(user=user, name="Main")
    transaction_create(
        portfolio=portfolio,
        data=TransactionInput(
            type="BUY", date=date(2024, 1, 2), quantity=Decimal(2), price=Decimal(100),
            instrument=aapl,
        ),
    )  # fmt: skip
    snapshot = PortfolioSnapshot.objects.filter(portfolio=portfolio, date=date(2024, 1, 2))
    assert snapshot.get().value == Decimal(200)

    result = import_prices(prices_csv("AAPL,NASDAQ,2024-01-02,,,,110,,,,"))

    assert result.portfolios_rebuilt == 1
    assert snapshot.get().value == Decimal(220)


FX_HEADER = "base,quote,date,rate"


def test_fx_import_is_idempotent_and_updates_a_changed_rate():
    content = f"{FX_HEADER}\nEUR,USD,2024-01-02,1.0950\nUSD,CHF,2024-01-02,0.85\n".encode()

    first = import_fx(content)
    second = import_fx(content)
    third = import_fx(f"{FX_HEADER}\neur,usd,2024-01-02,1.1\n".encode())

    assert (first.created, second.unchanged, third.updated) == (2, 2, 1)
    assert list(FxRate.objects.order_by("base").values_list("base", "quote", "rate")) == [
        ("EUR", "USD", Decimal("1.1")),
        ("USD", "CHF", Decimal("0.85")),
    ]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("EUR,EUR,2024-01-02,1", 'line 3, column "quote": must differ from the base EUR.'),
        ("EUR,USD,2024-01-02,0", 'line 3, column "rate": must be greater than zero, not 0.'),
        ("EUR,ZZZ,2024-01-02,1", 'line 3, column "quote": '),
        ("EUR,USD,2024-01-01,1.2", 'line 3, column "date": EUR/USD on 2024-01-01 is already'),
        ("EUR,USD,,1.2", 'line 3, column "date": a date is required.'),
    ],
)
def test_a_bad_fx_line_is_refused_and_nothing_is_written(line, expected):
    content = f"{FX_HEADER}\nEUR,USD,2024-01-01,1.1\n{line}\n".encode()

    with pytest.raises(CsvFileError) as caught:
        import_fx(content)

    assert caught.value.extra["file"][0].startswith(expected)
    assert not FxRate.objects.exists()


def test_an_fx_file_without_its_required_columns_names_them():
    with pytest.raises(CsvFileError) as caught:
        import_fx(b"base,quote,day\nEUR,USD,2024-01-01\n")

    assert caught.value.extra["file"] == ['line 1, column "rate": this required column is missing.']


def test_new_fx_rates_revalue_portfolios_holding_instruments_in_either_currency(aapl, user):
    import_prices(prices_csv("AAPL,NASDAQ,2024-01-02,,,,100,,,,"))
    import_fx(f"{FX_HEADER}\nUSD,CHF,2024-01-02,0.9\n".encode())
    portfolio = portfolio_create(user=user, name="Swiss", base_currency="CHF")
    transaction_create(
        portfolio=portfolio,
        data=TransactionInput(
            type="BUY", date=date(2024, 1, 2), quantity=Decimal(2), price=Decimal(100),
            instrument=aapl,
        ),
    )  # fmt: skip
    snapshot = PortfolioSnapshot.objects.filter(portfolio=portfolio, date=date(2024, 1, 2))
    assert snapshot.get().value == Decimal(180)

    result = import_fx(f"{FX_HEADER}\nUSD,CHF,2024-01-02,0.8\n".encode())

    assert result.portfolios_rebuilt == 1
    assert snapshot.get().value == Decimal(160)
