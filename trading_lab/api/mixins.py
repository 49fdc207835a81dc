"""Behaviour several API views share."""

from django.utils.cache import add_never_cache_headers
from rest_framework.request import Request
from rest_framework.response import Response


class NoStoreMixin:
    """Answers that carry a secret (or describe one) are never stored by a cache or browser."""

    def finalize_response(self, request: Request, response: Response, *args, **kwargs) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        add_never_cache_headers(response)
        return response
