"""Routes of the audit area outside the API: the public health check."""

from django.urls import path

from audit import views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
]
