"""Query-string parsing and schema pieces shared by API views."""

from typing import Any

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.request import Request

DELETED_RESPONSE = OpenApiResponse(description="Deleted.")


def query_params(
    serializer_class: type[serializers.Serializer], request: Request
) -> dict[str, Any]:
    """Validate the query string with `serializer_class`; a bad value answers 400 naming it."""
    query = serializer_class(data=request.query_params, context={"request": request})
    query.is_valid(raise_exception=True)
    return query.validated_data
