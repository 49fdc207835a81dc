"""Reads of broker credentials; each starts from the reader's own rows (`for_user`)."""

from django.db.models import QuerySet

from accounts.models import BrokerCredential, User


def broker_credential_list(*, user: User) -> QuerySet[BrokerCredential]:
    """The reader's broker credentials, by broker and label."""
    return BrokerCredential.objects.for_user(user).order_by("broker", "label", "pk")
