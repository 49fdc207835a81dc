"""The activity chain: tampering of every kind is found, honest changes are not."""

import threading
import uuid
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from audit.models import (
    ActivityAction,
    ActivityChainHead,
    ActivityLog,
    ActivityStatus,
    AppendOnlyError,
)
from audit.services import activity_chain_verify, activity_record, activity_row_hash
from tests.factories import UserFactory

TABLE = connection.ops.quote_name(ActivityLog._meta.db_table)


def _append(user, count: int) -> list[ActivityLog]:
    return [
        activity_record(
            user=user,
            action=ActivityAction.SIGN_IN,
            description=f"event {n}",
            details={"n": n},
            ip_address="192.0.2.10",
            user_agent_text="pytest",
        )
        for n in range(count)
    ]


def _sql(statement: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement.format(table=TABLE), params)


def _messages(report) -> list[tuple[int | None, str]]:
    return [(problem.seq, problem.message) for problem in report.problems]


def test_clean_chain_verifies_intact(user):
    rows = _append(user, 5)

    report = activity_chain_verify()

    assert report.intact, _messages(report)
    assert (report.rows, report.first_seq, report.last_seq) == (5, rows[0].seq, rows[-1].seq)


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("description", "nothing to see"),
        ("action", ActivityAction.SIGN_OUT),
        ("status", ActivityStatus.FAILURE),
        ("ip_address", "198.51.100.99"),
        ("user_agent", "another browser"),
        ("request_id", "forged"),
        ("user_ref", uuid.uuid4().hex),
    ],
)
def test_raw_sql_edit_of_a_recorded_column_is_reported(user, column, value):
    rows = _append(user, 5)
    edited = rows[2].seq

    # The column name comes from the table above, never from input.
    _sql(f"UPDATE {{table}} SET {column} = %s WHERE seq = %s", [value, edited])  # noqa: S608

    assert _messages(activity_chain_verify()) == [
        (edited, f"Row #{edited} was changed after it was written.")
    ]


def test_raw_sql_edit_of_details_is_reported(user):
    rows = _append(user, 3)
    ActivityLog._base_manager.filter(seq=rows[1].seq).update(details={"n": 99})

    assert _messages(activity_chain_verify()) == [
        (rows[1].seq, f"Row #{rows[1].seq} was changed after it was written.")
    ]


def test_raw_sql_edit_of_created_at_is_reported(user):
    rows = _append(user, 3)
    earlier = rows[1].created_at - timedelta(days=3)
    ActivityLog._base_manager.filter(seq=rows[1].seq).update(created_at=earlier)

    assert _messages(activity_chain_verify()) == [
        (rows[1].seq, f"Row #{rows[1].seq} was changed after it was written.")
    ]


def test_raw_sql_delete_in_the_middle_is_reported_as_a_gap(user):
    rows = _append(user, 5)
    deleted, following = rows[2].seq, rows[3].seq

    _sql("DELETE FROM {table} WHERE seq = %s", [deleted])

    assert _messages(activity_chain_verify()) == [
        (following, f"Row #{following} found where #{deleted} was expected (gap)."),
        (following, f"Row #{following} does not link to the row before it."),
    ]


def test_raw_sql_delete_at_the_end_is_reported_against_the_head(user):
    rows = _append(user, 5)
    last = rows[-1].seq

    _sql("DELETE FROM {table} WHERE seq = %s", [last])

    assert _messages(activity_chain_verify()) == [
        (
            None,
            f"The chain should end at #{last} but ends at #{last - 1}: "
            "rows at the end are missing or were changed.",
        )
    ]


def _forge(*, seq: int, prev_hash: str, user) -> ActivityLog:
    """A row built the way the service builds one, but written around it."""
    values = {
        "seq": seq,
        "created_at": timezone.now(),
        "user_ref": user.audit_ref,
        "action": ActivityAction.PASSWORD_CHANGE,
        "status": ActivityStatus.SUCCESS,
        "description": "Password changed",
        "details": {},
        "ip_address": "192.0.2.10",
        "user_agent": "pytest",
        "request_id": "",
    }
    row_hash = activity_row_hash(prev_hash=prev_hash, values=values)
    row = ActivityLog(user=user, prev_hash=prev_hash, row_hash=row_hash, **values)
    ActivityLog._base_manager.bulk_create([row])
    return row


def test_forged_row_with_a_plausible_hash_after_the_end_is_reported(user):
    rows = _append(user, 3)
    forged = _forge(seq=rows[-1].seq + 1, prev_hash=rows[-1].row_hash, user=user)

    assert _messages(activity_chain_verify()) == [
        (
            forged.seq,
            f"Row #{forged.seq} lies beyond the chain's end: it was added outside the service.",
        )
    ]


def test_forged_row_replacing_a_deleted_one_breaks_the_next_link(user):
    rows = _append(user, 4)
    _sql("DELETE FROM {table} WHERE seq = %s", [rows[2].seq])

    _forge(seq=rows[2].seq, prev_hash=rows[1].row_hash, user=user)

    assert _messages(activity_chain_verify()) == [
        (rows[3].seq, f"Row #{rows[3].seq} does not link to the row before it.")
    ]


def test_two_rows_swapping_places_are_reported(user):
    rows = _append(user, 5)
    first, second = rows[1].seq, rows[3].seq

    # Through a free seq, since seq is unique.
    _sql("UPDATE {table} SET seq = %s WHERE seq = %s", [10**9, first])
    _sql("UPDATE {table} SET seq = %s WHERE seq = %s", [first, second])
    _sql("UPDATE {table} SET seq = %s WHERE seq = %s", [second, 10**9])

    problems = _messages(activity_chain_verify())
    assert (first, f"Row #{first} was changed after it was written.") in problems
    assert (second, f"Row #{second} was changed after it was written.") in problems


def test_missing_chain_head_is_reported(user):
    _append(user, 2)
    ActivityChainHead.objects.all().delete()

    assert _messages(activity_chain_verify()) == [
        (None, "The chain head is missing although the log holds rows.")
    ]


def test_verification_starts_at_the_anchor_left_by_pruning(user):
    rows = _append(user, 5)
    # What pruning does: the archived rows go and the anchor moves past them.
    ActivityLog._base_manager.filter(seq__lte=rows[1].seq).delete()
    ActivityChainHead.objects.filter(pk=1).update(
        anchor_seq=rows[1].seq, anchor_hash=rows[1].row_hash
    )

    report = activity_chain_verify()

    assert report.intact, _messages(report)
    assert (report.rows, report.first_seq) == (3, rows[2].seq)


def test_rows_left_before_the_anchor_are_reported(user):
    rows = _append(user, 4)
    ActivityChainHead.objects.filter(pk=1).update(
        anchor_seq=rows[1].seq, anchor_hash=rows[1].row_hash
    )

    assert _messages(activity_chain_verify()) == [
        (row.seq, f"Row #{row.seq} lies before the chain's anchor #{rows[1].seq}.")
        for row in rows[:2]
    ]


def test_account_deletion_keeps_the_chain_valid_and_the_pseudonymous_ref(user):
    other = UserFactory()
    _append(other, 1)
    rows = _append(user, 3)
    audit_ref = user.audit_ref

    user.delete()

    report = activity_chain_verify()
    assert report.intact, _messages(report)
    kept = ActivityLog.objects.filter(seq__in=[row.seq for row in rows])
    assert [(row.user_id, row.user_ref) for row in kept] == [(None, audit_ref)] * 3


def test_saving_an_existing_row_raises_and_changes_nothing(user):
    (row,) = _append(user, 1)
    row.description = "rewritten"

    with pytest.raises(AppendOnlyError):
        row.save()

    assert ActivityLog.objects.get(pk=row.pk).description == "event 0"


def test_deleting_a_row_raises_and_keeps_it(user):
    (row,) = _append(user, 1)

    with pytest.raises(AppendOnlyError):
        row.delete()

    assert ActivityLog.objects.filter(pk=row.pk).exists()


@pytest.mark.parametrize(
    "bulk_change",
    [
        lambda rows: rows.update(description="rewritten"),
        lambda rows: rows.delete(),
    ],
    ids=["update", "delete"],
)
def test_bulk_changes_through_the_manager_raise(user, bulk_change):
    _append(user, 2)

    with pytest.raises(AppendOnlyError):
        bulk_change(ActivityLog.objects.all())

    assert list(ActivityLog.objects.values_list("description", flat=True)) == [
        "event 1",
        "event 0",
    ]


def test_verify_audit_command_reports_an_intact_chain(user, capsys):
    rows = _append(user, 3)

    call_command("verify_audit")

    assert capsys.readouterr().out == (
        f"Activity chain intact: 3 rows (#{rows[0].seq}..#{rows[-1].seq}).\n"
    )


@pytest.mark.django_db
def test_verify_audit_command_on_an_empty_log(capsys):
    call_command("verify_audit")

    assert capsys.readouterr().out == "Activity chain intact: 0 rows.\n"


def test_verify_audit_command_prints_each_problem_and_fails(user, capsys):
    rows = _append(user, 4)
    _sql("UPDATE {table} SET description = %s WHERE seq = %s", ["edited", rows[0].seq])
    _sql("DELETE FROM {table} WHERE seq = %s", [rows[2].seq])

    with pytest.raises(CommandError, match=r"Activity chain broken: 3 problem\(s\)\.") as error:
        call_command("verify_audit")

    assert error.value.returncode == 1
    assert capsys.readouterr().err.splitlines() == [
        f"Row #{rows[0].seq} was changed after it was written.",
        f"Row #{rows[3].seq} found where #{rows[2].seq} was expected (gap).",
        f"Row #{rows[3].seq} does not link to the row before it.",
    ]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_get_contiguous_seqs_and_a_valid_chain():
    user = UserFactory()
    threads_count, per_thread = 8, 15
    barrier = threading.Barrier(threads_count)
    errors: list[Exception] = []

    def append() -> None:
        try:
            barrier.wait()
            _append(user, per_thread)
        except Exception as error:  # collected for the assertion below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=append) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    seqs = sorted(ActivityLog.objects.values_list("seq", flat=True))
    assert seqs == list(range(1, threads_count * per_thread + 1))
    report = activity_chain_verify()
    assert report.intact, _messages(report)
