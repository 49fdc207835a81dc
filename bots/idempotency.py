"""`Idempotency-Key` for creating requests (SPEC §5): a retry gets the first answer, nothing new.

The record is inserted first, in the same transaction as the work it guards: of two requests
racing with one key, the second waits on the unique (user, scope, key) index until the first
commits, then fails its insert, rolls back whatever it started and answers the stored response.
The same key with a different body answers 409. Refusals (400) are not stored, so a corrected
retry with the same key goes through.
"""

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError

from bots.models import IdempotencyRecord

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255


class IdempotencyConflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "This Idempotency-Key was already used with a different request body."
    default_code = "idempotency_conflict"


@dataclass(frozen=True)
class IdempotentAnswer:
    """What to answer: `replayed` is True when it is the stored first answer."""

    status: int
    body: Any
    replayed: bool


def request_hash(body: Any) -> str:
    """A stable digest of a request body (keys sorted, so field order does not matter)."""
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), cls=DjangoJSONEncoder)
    return hashlib.sha256(text.encode()).hexdigest()


def idempotency_key_clean(raw: str | None) -> str | None:
    """The header's key, None when absent; a blank or over-long key is a 400."""
    if raw is None:
        return None
    key = raw.strip()
    if not key or len(key) > MAX_KEY_LENGTH:
        raise ValidationError({HEADER: [f"Must be 1 to {MAX_KEY_LENGTH} characters when given."]})
    return key


def _stored(*, user, scope: str, key: str, digest: str) -> IdempotentAnswer | None:
    record = IdempotencyRecord.objects.filter(user=user, scope=scope, key=key).first()
    if record is None:
        return None
    if record.request_hash != digest:
        raise IdempotencyConflict()
    return IdempotentAnswer(status=record.response_status, body=record.response_body, replayed=True)


def idempotent_call(
    *,
    user,
    scope: str,
    key: str | None,
    body: Any,
    run: Callable[[], tuple[int, Any]],
) -> IdempotentAnswer:
    """Answer `run()` once per (user, scope, key); without a key, just run it.

    `run` returns (status, JSON-able body) and does its writes in the caller's transaction
    (its own `atomic` nests). An exception from `run` stores nothing.
    """
    if key is None:
        answer_status, answer_body = run()
        return IdempotentAnswer(status=answer_status, body=answer_body, replayed=False)
    digest = request_hash(body)
    stored = _stored(user=user, scope=scope, key=key, digest=digest)
    if stored is not None:
        return stored
    try:
        with transaction.atomic():
            record = IdempotencyRecord.objects.create(
                user=user,
                scope=scope,
                key=key,
                request_hash=digest,
                response_status=0,
                response_body={},
            )
            answer_status, answer_body = run()
            record.response_status = answer_status
            record.response_body = json.loads(json.dumps(answer_body, cls=DjangoJSONEncoder))
            record.save(update_fields=["response_status", "response_body", "updated_at"])
    except IntegrityError:
        # Another request with this key committed first (or `run` hit a unique clash).
        stored = _stored(user=user, scope=scope, key=key, digest=digest)
        if stored is None:
            raise
        return stored
    return IdempotentAnswer(status=answer_status, body=record.response_body, replayed=False)
