"""OpenAPI generation: the error responses every operation can give, and the Bearer scheme.

Set as DRF's DEFAULT_SCHEMA_CLASS, so every API view documents the SPEC §6 error body for the
statuses it can really answer, and generated clients know the shape of a failure.
"""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from rest_framework import permissions, serializers

PAGINATION_PARAMETERS = frozenset({"page", "page_size"})


class ErrorSerializer(serializers.Serializer):
    """The body of every error answer (SPEC §6)."""

    detail = serializers.CharField(help_text="A human-readable summary of what went wrong.")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text=(
            "Messages per input field; nested fields are dotted (`items.0.price`), errors "
            "not tied to one field are under `non_field_errors`. Empty when not a validation error."
        ),
    )

    class Meta:
        ref_name = "Error"


_ERRORS: dict[str, tuple[str, dict[str, Any]]] = {
    "400": ("Invalid input: `errors` names each field and what is wrong with it.", {}),
    "401": (
        "No credentials, or a token that is unknown, expired or revoked.",
        {
            "WWW-Authenticate": {
                "schema": {"type": "string", "example": "Bearer"},
                "description": "The scheme to authenticate with.",
            }
        },
    ),
    "403": ("Signed in, but not allowed (for session clients: a missing CSRF token).", {}),
    "404": ("No such object among yours: another user's object answers the same.", {}),
    "415": ("The body's `Content-Type` is missing or not one this operation accepts.", {}),
    "429": (
        "Too many requests.",
        {
            "Retry-After": {
                "schema": {"type": "integer"},
                "description": "Seconds to wait before trying again.",
            }
        },
    ),
}


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's schema plus the error answers an operation can give."""

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        responses = operation["responses"]
        for code in self._error_codes(operation):
            if code not in responses:
                description, headers = _ERRORS[code]
                response: dict[str, Any] = {
                    "description": description,
                    "content": {"application/json": {"schema": self._error_ref()}},
                }
                if headers:
                    response["headers"] = headers
                responses[code] = response
        return operation

    def _error_ref(self) -> dict[str, str]:
        component = self.resolve_serializer(ErrorSerializer, "response")
        return component.ref

    def _error_codes(self, operation: dict[str, Any]) -> list[str]:
        codes = []
        query = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
        # A write goes through a service, and a service refusing it answers 400 (STYLE "Errors").
        writes = self.method not in ("GET", "HEAD", "OPTIONS")
        if writes or "requestBody" in operation or query - PAGINATION_PARAMETERS:
            codes.append("400")
        perms = self.view.get_permissions()
        if not any(isinstance(perm, permissions.AllowAny) for perm in perms):
            codes += ["401", "403"]
        # DRF's page-number pagination answers 404 ("Invalid page.") past the last page.
        if "{" in self.path or "page" in query:
            codes.append("404")
        if "requestBody" in operation:
            codes.append("415")
        if self.view.get_throttles():
            codes.append("429")
        return codes


class PersonalTokenScheme(OpenApiAuthenticationExtension):
    """`Authorization: Bearer <personal API token>` (accounts.authentication)."""

    target_class = "accounts.authentication.PersonalTokenAuthentication"
    name = "personalToken"

    def get_security_definition(self, auto_schema):
        definition = build_bearer_security_scheme_object(
            header_name="Authorization",
            token_prefix="Bearer",  # noqa: S106 (the scheme's name, not a secret)
        )
        definition["description"] = (
            "A personal API token, created under Profile → Security or `POST /api/v1/tokens`."
        )
        return definition
