"""factory_boy factories shared by the tests."""

import factory

from accounts.models import Broker, BrokerCredential, BrokerSession, User

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
