"""Bulk work runs with Python's cyclic garbage collector paused (trading_lab/gc_pause.py)."""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable

import pytest

from portfolio.services import TransactionInput, transactions_bulk_create
from portfolio.services.imports import transactions_import
from tests.factories import PortfolioFactory
from trading_lab.gc_pause import gc_paused


def _collections_during(work: Callable[[], object]) -> int:
    """How many collections start while `work()` runs."""
    started = []

    def probe(phase: str, info: dict) -> None:
        if phase == "start":
            started.append(info["generation"])

    gc.callbacks.append(probe)
    try:
        work()
    finally:
        gc.callbacks.remove(probe)
    return len(started)


def _allocate() -> int:
    # Lists are tracked by the collector: 50,000 of them pass its threshold many times over.
    kept = [[n] for n in range(50_000)]
    return len(kept)


def test_the_probe_sees_the_collector_run_when_it_is_not_paused():
    assert gc.isenabled()
    assert _collections_during(_allocate) > 0


def test_nothing_is_collected_during_a_pause_and_the_collector_comes_back():
    with gc_paused():
        assert not gc.isenabled()
        assert _collections_during(_allocate) == 0
    assert gc.isenabled()


def test_pauses_nest_and_overlap_across_threads():
    inner_started, outer_ended = threading.Event(), threading.Event()
    seen = {}

    def other_thread() -> None:
        with gc_paused():
            inner_started.set()
            outer_ended.wait(5)
            seen["after the first pause ended"] = gc.isenabled()
        seen["after both"] = gc.isenabled()

    with gc_paused():
        with gc_paused():
            pass
        assert not gc.isenabled()  # the inner pause's end does not end the outer one
        thread = threading.Thread(target=other_thread)
        thread.start()
        assert inner_started.wait(5)
    outer_ended.set()
    thread.join(5)
    assert seen == {"after the first pause ended": False, "after both": True}
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off():
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


@pytest.mark.django_db
def test_imports_and_bulk_writes_run_without_a_collection(user):
    portfolio = PortfolioFactory(user=user)
    lines = [f"2024-01-{2 + n % 20:02d},DEPOSIT,1,{100 + n},g-{n}" for n in range(2000)]
    content = ("date,type,quantity,price,external_id\n" + "\n".join(lines)).encode()

    def run_import() -> None:
        report = transactions_import(
            user=user, portfolio=portfolio, content=content, filename="g.csv",
            dry_run=True, inline=True,
        )  # fmt: skip
        assert report.ok
        assert len(report.to_add) == 2000

    # At most the one collection that catches up once the pause ends; without the pause, these
    # 2,000 rows start hundreds.
    assert _collections_during(run_import) <= 1

    inputs = [
        TransactionInput(
            type="DEPOSIT",
            date=portfolio.created_at.date(),
            quantity=None,
            price=100 + n,
            external_id=f"b-{n}",
        )
        for n in range(2000)
    ]
    written = _collections_during(
        lambda: transactions_bulk_create(portfolio=portfolio, inputs=inputs)
    )
    assert written <= 1
    assert gc.isenabled()
