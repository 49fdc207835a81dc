"""Re-encrypt every stored secret with the first FIELD_ENCRYPTION_KEYS key (docs/encryption.md).

Covers every model field that is a `trading_lab.encryption.EncryptedTextField` (found through the
app registry, so new models are covered without editing this command) and the secrets allauth's
MFA keeps in `mfa_authenticator.data` (TOTP secrets and recovery-code seeds).
"""

from collections.abc import Iterator
from typing import Any

from allauth.mfa.models import Authenticator
from django.apps import apps
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import models, transaction
from django.db.models.functions import Cast

from trading_lab.encryption import (
    DecryptionError,
    EncryptedTextField,
    decrypt_str,
    encrypt_str,
    needs_reencryption,
)

# Keys of `Authenticator.data` that allauth fills through the MFA adapter's encrypt().
MFA_SECRET_KEYS = ("secret", "seed")
MFA_SECRET_LIST_KEYS = ("migrated_codes",)


def encrypted_fields(model: type[models.Model]) -> list[EncryptedTextField]:
    return [f for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]


def batches(queryset: models.QuerySet, size: int) -> Iterator[list[Any]]:
    """Primary keys of `queryset` in ascending runs of `size`, read afresh for each run."""
    last_pk = None
    while True:
        page = queryset.order_by("pk")
        if last_pk is not None:
            page = page.filter(pk__gt=last_pk)
        pks = list(page.values_list("pk", flat=True)[:size])
        if not pks:
            return
        yield pks
        last_pk = pks[-1]


class Command(BaseCommand):
    help = (
        "Re-encrypt every encrypted field and allauth MFA secret with the first key of "
        "FIELD_ENCRYPTION_KEYS, so older keys can be removed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Count the rows that would be re-encrypted; change nothing.",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=500,
            help="Rows per transaction (default 500).",
        )

    def handle(self, *args: Any, dry_run: bool, batch_size: int, **options: Any) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        verb = "would be re-encrypted" if dry_run else "re-encrypted"
        total = 0
        for model in apps.get_models():
            fields = encrypted_fields(model)
            if not fields:
                continue
            seen, changed = self._reencrypt_model(model, fields, dry_run, batch_size)
            total += changed
            self.stdout.write(f"{model._meta.label}: {changed} of {seen} rows {verb}")
        seen, changed = self._reencrypt_authenticators(dry_run, batch_size)
        total += changed
        self.stdout.write(
            f"{Authenticator._meta.label} (MFA secrets): {changed} of {seen} rows {verb}"
        )
        self.stdout.write(self.style.SUCCESS(f"Done: {total} rows {verb}."))

    def _reencrypt_model(
        self, model: type[models.Model], fields: list[EncryptedTextField], dry_run: bool, size: int
    ) -> tuple[int, int]:
        # Cast to plain text reads the stored token: the field itself would decrypt it.
        raw = {f"raw_{f.attname}": Cast(f.attname, output_field=models.TextField()) for f in fields}
        manager = model._base_manager
        seen = changed = 0
        for pks in batches(manager.all(), size):
            with transaction.atomic():
                # Locked so a write that lands between our read and our update is not undone.
                rows = (
                    manager.filter(pk__in=pks)
                    .select_for_update()
                    .annotate(**raw)
                    .values("pk", *raw)
                )
                for row in rows:
                    seen += 1
                    updates = {}
                    for field in fields:
                        token = row[f"raw_{field.attname}"]
                        if token is None:
                            continue
                        plain = self._decrypt(token, model._meta.label, row["pk"], field.name)
                        if needs_reencryption(token):
                            updates[field.attname] = plain
                    if updates:
                        changed += 1
                        if not dry_run:
                            # update() encrypts with the first key and, unlike save(), leaves
                            # updated_at, signals and model history alone: nothing changed.
                            manager.filter(pk=row["pk"]).update(**updates)
        return seen, changed

    def _reencrypt_authenticators(self, dry_run: bool, size: int) -> tuple[int, int]:
        seen = changed = 0
        manager = Authenticator.objects
        for pks in batches(manager.all(), size):
            with transaction.atomic():
                for authenticator in manager.filter(pk__in=pks).select_for_update():
                    seen += 1
                    data = dict(authenticator.data)
                    stale = False
                    for key in MFA_SECRET_KEYS:
                        if isinstance(data.get(key), str):
                            data[key], renewed = self._renew(data[key], authenticator.pk, key)
                            stale |= renewed
                    for key in MFA_SECRET_LIST_KEYS:
                        if isinstance(data.get(key), list):
                            renewed_list = [
                                self._renew(item, authenticator.pk, key) for item in data[key]
                            ]
                            data[key] = [value for value, _ in renewed_list]
                            stale |= any(renewed for _, renewed in renewed_list)
                    if stale:
                        changed += 1
                        if not dry_run:
                            manager.filter(pk=authenticator.pk).update(data=data)
        return seen, changed

    def _renew(self, token: str, pk: Any, key: str) -> tuple[str, bool]:
        """The token re-encrypted with the first key (or as it was), and whether it changed."""
        plain = self._decrypt(token, Authenticator._meta.label, pk, f"data[{key!r}]")
        if needs_reencryption(token):
            return encrypt_str(plain), True
        return token, False

    def _decrypt(self, token: str, label: str, pk: Any, field: str) -> str:
        try:
            return decrypt_str(token)
        except DecryptionError as exc:
            raise CommandError(
                f"{label} pk={pk}: {field} cannot be decrypted with any key in "
                "FIELD_ENCRYPTION_KEYS. Stopped; earlier batches are re-encrypted, this batch "
                "and later rows are unchanged. Add the missing old key (after the new one) and "
                "run again."
            ) from exc
