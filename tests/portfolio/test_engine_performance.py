"""Valuation, snapshots and the `performance` answer against SPEC §4 and independent references."""

import math
from datetime import date
from decimal import Decimal

import pytest

from portfolio.engine import (
    Calendar,
    EngineValidationError,
    FxTable,
    Holding,
    InstrumentInfo,
    LedgerSummary,
    MissingFxRateError,
    PriceSource,
    PriceTable,
    ledger_summary,
    performance_from_snapshots,
    portfolio_performance,
    snapshots_build,
    valuation_days,
)
from tests.portfolio.builders import d, day, split, tx

NO_FX = FxTable()


def closes(instrument: str, rows: dict[str, str]) -> list[tuple[str, date, Decimal]]:
    return [(instrument, day(k), d(v)) for k, v in rows.items()]


# --- SPEC §4 worked check -------------------------------------------------------------------

NOVN_TRANSACTIONS = [
    tx(1, "2022-03-07", "BUY", "NOVN", 2, "75.80", fee="2.95"),
    tx(2, "2022-04-08", "SELL", "NOVN", 1, "85.73", fee="1.30"),
]
NOVN_PRICES = PriceTable(
    closes("NOVN", {"2022-03-07": "76.10", "2022-03-21": "80.05", "2022-04-11": "87.80"})
)
NOVN_INFO = {"NOVN": InstrumentInfo(symbol="NOVN", exchange="SIX")}


def assert_spec_worked_check(performance):
    (position,) = performance.positions
    assert performance.as_of == day("2022-04-11")
    assert performance.currency == "CHF"
    assert (position.symbol, position.exchange) == ("NOVN", "SIX")
    assert position.quantity == d(1)
    assert position.cost_basis == d("75.80")
    assert position.value == d("87.80")
    assert position.realized_pnl == d("9.93")
    assert position.unrealized_pnl == d("12.00")
    assert position.fees == d("4.25")
    assert performance.realized_pnl == d("9.93")
    assert performance.unrealized_pnl == d("12.00")
    assert performance.fees == d("4.25")
    assert performance.net_pnl == d("17.68")
    assert performance.total_return == d("17.68")
    # The sale's net proceeds stay as cash: 85.73 - 1.30.
    assert performance.cash == d("84.43")
    assert performance.value == d("87.80") + d("84.43")


def test_spec_worked_check_from_the_ledger():
    performance = portfolio_performance(
        transactions=NOVN_TRANSACTIONS,
        prices=NOVN_PRICES,
        fx=NO_FX,
        base_currency="CHF",
        as_of=day("2022-04-11"),
        instruments=NOVN_INFO,
    )

    assert_spec_worked_check(performance)


def test_spec_worked_check_from_stored_snapshots():
    run = snapshots_build(
        transactions=NOVN_TRANSACTIONS,
        prices=NOVN_PRICES,
        fx=NO_FX,
        base_currency="CHF",
        end=day("2022-04-11"),
    )

    performance = performance_from_snapshots(
        snapshots=run.snapshots,
        ledger=ledger_summary(state=run.state),
        prices=NOVN_PRICES,
        fx=NO_FX,
        as_of=day("2022-04-11"),
        instruments=NOVN_INFO,
    )

    assert_spec_worked_check(performance)
    assert run.snapshots[-1].value == performance.value


# --- Reference scenario: flows, a weekend, a withdrawal, a dividend, an implicit deposit ---------

SCENARIO = [
    tx(1, "2022-01-03", "DEPOSIT", price=10000),
    tx(2, "2022-01-03", "BUY", "NOVN", 50, 100, fee=5),
    tx(3, "2022-01-05", "BUY", "NOVN", 20, 98, fee=2),
    tx(4, "2022-01-07", "DEPOSIT", price=1000),
    tx(5, "2022-01-08", "DEPOSIT", price=500),
    tx(6, "2022-01-10", "SELL", "NOVN", 30, 105, fee=3),
    tx(7, "2022-01-11", "WITHDRAWAL", price=2000),
    tx(8, "2022-01-13", "DIVIDEND", "NOVN", 40, "0.5"),
    tx(9, "2022-01-14", "BUY", "NOVN", 200, 100),
]
SCENARIO_PRICES = PriceTable(
    closes(
        "NOVN",
        {
            "2022-01-03": "101",
            "2022-01-04": "99",
            "2022-01-05": "97",
            "2022-01-06": "103",
            "2022-01-07": "104",
            "2022-01-10": "106",
            "2022-01-11": "102",
            "2022-01-12": "100",
            "2022-01-13": "101",
            "2022-01-14": "108",
        },
    )
)
# End-of-day value and external flow, worked out by hand from the transactions and closes:
# quantity * close + cash; the Saturday deposit counts on Monday; the last buy overdraws the cash
# by 14300, which is that day's implicit deposit.
SCENARIO_SERIES = [
    ("2022-01-03", "10045", "10000"),
    ("2022-01-04", "9945", "0"),
    ("2022-01-05", "9823", "0"),
    ("2022-01-06", "10243", "0"),
    ("2022-01-07", "11313", "1000"),
    ("2022-01-10", "11920", "500"),
    ("2022-01-11", "9760", "-2000"),
    ("2022-01-12", "9680", "0"),
    ("2022-01-13", "9740", "0"),
    ("2022-01-14", "25920", "14300"),
]


def reference_statistics(series, risk_free_rate=0.0, opening=None):
    """SPEC §4 formulas written out independently, in floats; `opening` = (date, value) before."""
    values = [float(v) for _, v, _ in series]
    flows = [float(f) for _, _, f in series]
    returns = []
    previous = float(opening[1]) if opening else 0.0
    for value, flow in zip(values, flows, strict=True):
        denominator = previous + flow
        returns.append(value / denominator - 1 if denominator != 0 else 0.0)
        previous = value
    index, peak, worst = 1.0, 1.0, 0.0
    for r in returns:
        index *= 1 + r
        peak = max(peak, index)
        worst = min(worst, index / peak - 1)
    mean = sum(returns) / len(returns)
    std = math.sqrt(sum((r - mean) ** 2 for r in returns) / (len(returns) - 1))
    dates = [day(k) for k, _, _ in series]
    cashflows = [(day(opening[0]), -float(opening[1]))] if opening else []
    cashflows += [(dt, -f) for dt, f in zip(dates, flows, strict=True) if f]
    cashflows.append((dates[-1], values[-1]))
    first = cashflows[0][0]

    def npv(rate):
        return sum(a / (1 + rate) ** ((dt - first).days / 365) for dt, a in cashflows)

    lo, hi = -0.99, 1e6
    for _ in range(300):
        mid = (lo + hi) / 2
        if (npv(mid) > 0) == (npv(lo) > 0):
            lo = mid
        else:
            hi = mid
    return {
        "twr": index - 1,
        "mwr": (lo + hi) / 2,
        "max_drawdown": worst,
        "volatility": std * math.sqrt(252),
        "sharpe": (mean - risk_free_rate / 252) / std * math.sqrt(252),
    }


def scenario_performance(**overrides):
    arguments = {
        "transactions": SCENARIO,
        "prices": SCENARIO_PRICES,
        "fx": NO_FX,
        "base_currency": "CHF",
        "as_of": day("2022-01-14"),
    } | overrides
    return portfolio_performance(**arguments)


def test_snapshots_match_the_hand_worked_series():
    run = snapshots_build(
        transactions=SCENARIO,
        prices=SCENARIO_PRICES,
        fx=NO_FX,
        base_currency="CHF",
        end=day("2022-01-14"),
    )

    assert [(s.date.isoformat(), s.value, s.net_external_flow) for s in run.snapshots] == [
        (k, d(v), d(f)) for k, v, f in SCENARIO_SERIES
    ]
    assert run.snapshots[-1].cash == 0
    assert run.snapshots[-1].cost_basis == pytest.approx(
        d("6960") * 40 / 70 + d(20000), abs=d("1e-20")
    )


@pytest.mark.parametrize("risk_free_rate", ["0", "0.03"])
def test_return_statistics_match_an_independent_reference(risk_free_rate):
    performance = scenario_performance(risk_free_rate=d(risk_free_rate))
    expected = reference_statistics(SCENARIO_SERIES, float(risk_free_rate))

    for name, reference in expected.items():
        assert float(getattr(performance, name)) == pytest.approx(reference, rel=1e-9, abs=1e-12)


def test_scenario_money_figures_reconcile_with_the_flows():
    performance = scenario_performance()

    assert performance.value == d(25920)
    assert performance.fees == d(10)
    assert performance.dividends == d(20)
    assert performance.cost_basis == pytest.approx(
        d("23977.142857142857142857142857"), abs=d("1e-24")
    )
    assert performance.net_pnl == pytest.approx(d(2100), abs=d("1e-25"))
    # value - sum of external flows (23800) is exactly what the portfolio earned.
    assert performance.total_return == pytest.approx(d(2120), abs=d("1e-25"))


@pytest.mark.parametrize(
    "as_of", ["2022-01-14", "2022-01-16", "2022-01-12"], ids=["friday", "sunday", "midweek"]
)
def test_performance_from_stored_snapshots_equals_computing_from_the_ledger(as_of):
    transactions = [*SCENARIO, tx(10, "2022-01-15", "DEPOSIT", price=100)]
    stored = snapshots_build(
        transactions=transactions,
        prices=SCENARIO_PRICES,
        fx=NO_FX,
        base_currency="CHF",
        end=day("2022-01-14"),
    )
    ledger_at = snapshots_build(
        transactions=transactions,
        prices=SCENARIO_PRICES,
        fx=NO_FX,
        base_currency="CHF",
        end=day(as_of),
    ).state

    from_snapshots = performance_from_snapshots(
        snapshots=stored.snapshots,
        ledger=ledger_summary(state=ledger_at),
        prices=SCENARIO_PRICES,
        fx=NO_FX,
        as_of=day(as_of),
    )

    assert from_snapshots == scenario_performance(transactions=transactions, as_of=day(as_of))


def test_snapshots_continued_from_a_closed_state_equal_one_full_build():
    arguments = {"prices": SCENARIO_PRICES, "fx": NO_FX}
    full = snapshots_build(
        transactions=SCENARIO, base_currency="CHF", end=day("2022-01-14"), **arguments
    )
    head = snapshots_build(
        transactions=SCENARIO[:4], base_currency="CHF", end=day("2022-01-07"), **arguments
    )
    tail = snapshots_build(
        transactions=SCENARIO[4:], state=head.state.copy(), end=day("2022-01-14"), **arguments
    )

    assert head.snapshots + tail.snapshots == full.snapshots


@pytest.mark.parametrize("start", ["2022-01-08", "2022-01-10", "2022-01-12"])
def test_snapshots_from_a_start_date_are_the_tail_of_the_full_series(start):
    arguments = {
        "transactions": SCENARIO,
        "prices": SCENARIO_PRICES,
        "fx": NO_FX,
        "base_currency": "CHF",
        "end": day("2022-01-14"),
    }

    tail = snapshots_build(start=day(start), **arguments).snapshots
    full = snapshots_build(**arguments).snapshots

    assert tail == tuple(s for s in full if s.date >= day(start))


def test_return_span_from_a_start_date_opens_with_the_previous_value():
    performance = scenario_performance(start=day("2022-01-10"))
    expected = reference_statistics(SCENARIO_SERIES[5:], opening=("2022-01-07", "11313"))

    for name, reference in expected.items():
        assert float(getattr(performance, name)) == pytest.approx(reference, rel=1e-9, abs=1e-12)


def test_no_transactions_give_an_empty_but_well_formed_answer():
    performance = portfolio_performance(
        transactions=[], prices=PriceTable(), fx=NO_FX, base_currency="CHF", as_of=day("2022-01-03")
    )

    assert performance.value == 0
    assert performance.positions == ()
    assert performance.twr == 0
    assert performance.max_drawdown == 0
    assert (performance.mwr, performance.volatility, performance.sharpe) == (None, None, None)


# --- Multi-currency ---------------------------------------------------------------------------

NESN = [
    tx(1, "2022-01-03", "BUY", "NESN", 10, 100, fee=5, currency="CHF", fx_rate="1.10"),
    tx(2, "2022-02-01", "BUY", "NESN", 10, 120, currency="CHF", fx_rate="1.00"),
    tx(3, "2022-03-01", "SELL", "NESN", 5, 130, currency="CHF", fx_rate="1.20"),
]
NESN_PRICES = PriceTable(closes("NESN", {"2022-01-03": "100", "2022-03-02": "140"}))


@pytest.mark.parametrize(
    "rates",
    [
        [
            ("CHF", "USD", day("2021-12-31"), d("1.10")),
            ("CHF", "USD", day("2022-03-01"), d("1.25")),
        ],
        [("USD", "CHF", day("2021-12-31"), d("0.8")), ("USD", "CHF", day("2022-03-04"), d("0.8"))],
        [("CHF", "USD", day("2021-12-31"), d("3")), ("USD", "CHF", day("2022-03-02"), d("0.8"))],
    ],
    ids=["direct-pair", "inverse-pair", "newer-inverse-beats-older-direct"],
)
def test_multi_currency_values_at_the_valuation_date_rate(rates):
    performance = portfolio_performance(
        transactions=NESN,
        prices=NESN_PRICES,
        fx=FxTable(rates),
        base_currency="USD",
        as_of=day("2022-03-04"),
    )
    (position,) = performance.positions

    assert position.fx_rate == d("1.25")
    assert position.price_date == day("2022-03-02")
    assert position.market_price == d(175)
    assert position.value == d(2625)
    assert position.cost_basis == d(1725)
    assert position.unrealized_pnl == d(900)
    assert position.realized_pnl == d(205)
    assert position.average_cost == d(115)
    assert position.weight * performance.value == pytest.approx(d(2625), abs=d("1e-25"))
    local = position.local
    assert (local.market_price, local.value, local.cost_basis) == (d(140), d(2100), d(1650))
    assert (local.unrealized_pnl, local.realized_pnl, local.average_cost) == (
        d(450),
        d(100),
        d(110),
    )


def test_missing_fx_rate_raises_naming_the_pair_and_date():
    fx = FxTable([("CHF", "USD", day("2022-02-01"), d("1.1"))])

    with pytest.raises(MissingFxRateError) as caught:
        portfolio_performance(
            transactions=NESN,
            prices=NESN_PRICES,
            fx=fx,
            base_currency="USD",
            as_of=day("2022-03-04"),
        )

    error = caught.value
    assert error.field == "fx_rate"
    assert (error.currency, error.base, error.on) == ("CHF", "USD", day("2022-01-03"))
    assert "CHF/USD" in error.message
    assert "2022-01-03" in error.message


def test_fx_table_never_falls_back_to_one():
    fx = FxTable([("EUR", "USD", day("2022-01-03"), d("1.1"))])

    assert fx.rate(currency="EUR", base="USD", day=day("2022-01-04")) == d("1.1")
    assert fx.rate(currency="USD", base="USD", day=day("2022-01-04")) == 1
    with pytest.raises(MissingFxRateError, match="EUR/USD on or before 2022-01-02"):
        fx.rate(currency="EUR", base="USD", day=day("2022-01-02"))
    with pytest.raises(MissingFxRateError, match="GBP/USD"):
        fx.rate(currency="GBP", base="USD", day=day("2022-01-04"))


@pytest.mark.parametrize(
    ("row", "field"),
    [
        (("EUR", "EUR", day("2022-01-03"), d(1)), "quote"),
        (("EUR", "USD", day("2022-01-03"), d(0)), "rate"),
        (("EUR", "USD", day("2022-01-03"), 1.1), "rate"),
    ],
)
def test_bad_fx_rows_are_refused_naming_the_field(row, field):
    with pytest.raises(EngineValidationError) as caught:
        FxTable([row])

    assert caught.value.field == field


# --- Prices -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("on", "expected"),
    [("2022-01-02", None), ("2022-01-03", "10"), ("2022-01-09", "12"), ("2023-01-01", "12")],
)
def test_price_is_the_last_close_on_or_before_the_date(on, expected):
    prices = PriceTable(closes("X", {"2022-01-05": "12", "2022-01-03": "10"}))

    found = prices.close_on_or_before(instrument="X", day=day(on))

    assert (found[1] if found else None) == (d(expected) if expected else None)


def test_instrument_without_any_close_is_valued_at_its_last_trade_price():
    performance = portfolio_performance(
        transactions=[
            tx(1, "2022-01-03", "BUY", "FLAT", 4, 250),
            tx(2, "2022-01-05", "BUY", "FLAT", 1, 300),
        ],
        prices=PriceTable(),
        fx=NO_FX,
        base_currency="CHF",
        as_of=day("2022-01-10"),
    )
    (position,) = performance.positions

    assert position.price_source is PriceSource.TRADE
    assert position.price_date == day("2022-01-05")
    assert position.value == d(1500)


@pytest.mark.parametrize(
    ("rows", "values"),
    [
        ({"2022-01-31": "100"}, ["1000", "1000", "1000"]),
        ({"2022-01-31": "100", "2022-02-01": "51"}, ["1000", "1020", "1020"]),
    ],
    ids=["only-a-pre-split-close", "post-split-close-on-the-split-date"],
)
def test_close_older_than_a_split_is_divided_by_the_split_ratio(rows, values):
    run = snapshots_build(
        transactions=[tx(1, "2022-01-31", "BUY", "X", 10, 100)],
        prices=PriceTable(closes("X", rows)),
        fx=NO_FX,
        base_currency="CHF",
        splits=[split("X", "2022-02-01", 2, 1)],
        end=day("2022-02-02"),
    )

    assert [s.value for s in run.snapshots] == [d(v) for v in values]


def test_holding_without_close_or_trade_price_is_refused_naming_prices():
    holding = Holding(
        instrument="X",
        currency="CHF",
        quantity=d(1),
        average_cost=d(1),
        average_cost_base=d(1),
        cost_basis=d(1),
        cost_basis_base=d(1),
        realized_pnl=d(0),
        realized_pnl_base=d(0),
        fees=d(0),
        fees_base=d(0),
        dividends=d(0),
        dividends_base=d(0),
    )
    summary = LedgerSummary(
        base_currency="CHF",
        as_of=day("2022-01-03"),
        cash=d(0),
        fees=d(0),
        dividends=d(0),
        interest=d(0),
        deposits=d(0),
        withdrawals=d(0),
        implicit_deposits=d(1),
        net_external_flow=d(1),
        flows={day("2022-01-03"): d(1)},
        holdings=(holding,),
    )

    with pytest.raises(EngineValidationError) as caught:
        performance_from_snapshots(
            snapshots=[], ledger=summary, prices=PriceTable(), fx=NO_FX, as_of=day("2022-01-03")
        )

    assert caught.value.field == "prices"


def test_closed_positions_stay_listed_for_their_realized_figures():
    performance = portfolio_performance(
        transactions=[
            tx(1, "2022-01-03", "BUY", "A", 1, 10),
            tx(2, "2022-01-04", "SELL", "A", 1, 15),
            tx(3, "2022-01-04", "BUY", "B", 1, 20),
        ],
        prices=PriceTable(closes("B", {"2022-01-04": "22"})),
        fx=NO_FX,
        base_currency="CHF",
        as_of=day("2022-01-05"),
    )

    assert [(p.symbol, p.quantity, p.realized_pnl) for p in performance.positions] == [
        ("B", d(1), d(0)),
        ("A", d(0), d(5)),
    ]
    assert performance.positions[1].market_price is None
    assert performance.realized_pnl == d(5)


def test_ledger_summary_after_the_valuation_date_is_refused():
    state = snapshots_build(
        transactions=SCENARIO,
        prices=SCENARIO_PRICES,
        fx=NO_FX,
        base_currency="CHF",
        end=day("2022-01-14"),
    ).state

    with pytest.raises(EngineValidationError) as caught:
        performance_from_snapshots(
            snapshots=[],
            ledger=ledger_summary(state=state),
            prices=SCENARIO_PRICES,
            fx=NO_FX,
            as_of=day("2022-01-10"),
        )

    assert caught.value.field == "as_of"


# --- Calendar ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("calendar", "expected"),
    [
        (Calendar.WEEKDAYS, ["06", "07", "10", "11", "12", "13", "14", "16"]),
        (Calendar.ALL_DAYS, ["06", "07", "08", "09", "10", "11", "12", "13", "14", "15", "16"]),
    ],
)
def test_valuation_days_are_weekdays_plus_the_end_date_or_every_day(calendar, expected):
    days = valuation_days(start=day("2022-01-06"), end=day("2022-01-16"), calendar=calendar)

    assert [x.isoformat() for x in days] == [f"2022-01-{n}" for n in expected]


def test_all_days_calendar_values_the_weekend_too():
    run = snapshots_build(
        transactions=SCENARIO,
        prices=SCENARIO_PRICES,
        fx=NO_FX,
        base_currency="CHF",
        end=day("2022-01-14"),
        calendar=Calendar.ALL_DAYS,
    )
    by_date = {s.date: s for s in run.snapshots}

    assert len(run.snapshots) == 12
    assert by_date[day("2022-01-08")].net_external_flow == d(500)
    assert by_date[day("2022-01-10")].net_external_flow == 0
    assert by_date[day("2022-01-09")].value == by_date[day("2022-01-08")].value
