"""`manage.py import_prices` and `import_fx`: exit codes, every error listed, --dry-run."""

from datetime import date
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from portfolio.models import FxRate, Instrument, PriceBar

pytestmark = pytest.mark.django_db


def run(command: str, *args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(command, *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def prices_file(tmp_path):
    path = tmp_path / "prices.csv"
    path.write_text(
        "Symbol,Exchange,Date,Open,High,Low,Close,Adjusted Close,Volume,Currency,Name\n"
        "NOVN,SIX,2022-04-08,86,86.5,85.2,85.73,85.73,120000,CHF,Novartis\n"
        "NOVN,SIX,2022-04-11,86,88,85.9,87.80,87.80,98000,CHF,Novartis\n",
        encoding="utf-8-sig",
    )
    return path


def test_import_prices_writes_the_bars_and_reports_counts(prices_file):
    out, _ = run("import_prices", str(prices_file))

    assert "2 price bars read: 2 were created, 0 were updated, 0 unchanged." in out
    assert "New instruments: NOVN.SIX." in out
    assert PriceBar.objects.get(date=date(2022, 4, 11)).close == Decimal("87.80")


def test_running_import_prices_twice_changes_nothing_the_second_time(prices_file):
    run("import_prices", str(prices_file))
    before = list(PriceBar.objects.values())

    out, _ = run("import_prices", str(prices_file))

    assert "0 were created, 0 were updated, 2 unchanged." in out
    assert list(PriceBar.objects.values()) == before


def test_dry_run_writes_nothing(prices_file):
    out, _ = run("import_prices", str(prices_file), "--dry-run")

    assert out.startswith("Dry run, nothing written. 2 price bars read: 2 would be created")
    assert not PriceBar.objects.exists()
    assert not Instrument.objects.exists()


def test_a_file_with_bad_lines_exits_non_zero_listing_each_and_writes_nothing(tmp_path):
    Instrument.objects.create(symbol="AAPL", currency="USD")
    path = tmp_path / "bad.csv"
    path.write_text(
        "symbol,date,low,close\nAAPL,2024-01-02,1,2\nAAPL,2024-01-03,3,2\nAAPL,2024-01-04,,x\n"
        "MSFT,2024-01-04,,5\n"
    )
    err = StringIO()

    with pytest.raises(CommandError, match=r"The file has 3 problems; nothing was imported\."):
        call_command("import_prices", str(path), stdout=StringIO(), stderr=err)

    assert err.getvalue().splitlines() == [
        'bad.csv: line 3, column "low": low 3 is above close 2.',
        'bad.csv: line 4, column "close": "x" is not a number.',
        'bad.csv: line 5, column "symbol": unknown instrument "MSFT"; add a "currency" column '
        "to create it.",
    ]
    assert not PriceBar.objects.exists()


def test_a_missing_file_is_a_clear_command_error(tmp_path):
    with pytest.raises(CommandError, match=r"Cannot read .*nope\.csv: No such file"):
        run("import_prices", str(tmp_path / "nope.csv"))


def test_import_fx_loads_rates_and_is_idempotent(tmp_path):
    path = tmp_path / "fx.csv"
    path.write_text("base,quote,date,rate\nCHF,USD,2022-04-11,1.0729\n")

    first, _ = run("import_fx", str(path))
    second, _ = run("import_fx", str(path))

    assert "1 FX rates read: 1 were created" in first
    assert "0 were created, 0 were updated, 1 unchanged." in second
    assert FxRate.objects.get().rate == Decimal("1.0729")


def test_import_fx_refuses_a_bad_line_with_a_non_zero_exit(tmp_path):
    path = tmp_path / "fx.csv"
    path.write_text("base,quote,date,rate\nCHF,USD,2022-04-11,1.07\nCHF,CHF,2022-04-11,1\n")
    err = StringIO()

    with pytest.raises(CommandError):
        call_command("import_fx", str(path), stdout=StringIO(), stderr=err)

    assert err.getvalue().splitlines() == [
        'fx.csv: line 3, column "quote": must differ from the base CHF.'
    ]
    assert not FxRate.objects.exists()
