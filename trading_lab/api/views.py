"""API views of the plumbing itself: the docs page and the JSON 404 for unknown paths."""

import base64
import hashlib
import re

from csp.decorators import csp_update
from django.template.loader import get_template
from django.utils.decorators import method_decorator
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularSwaggerSplitView
from rest_framework import exceptions, permissions
from rest_framework.request import Request
from rest_framework.views import APIView


def _inline_style_hashes(template_name: str) -> list[str]:
    """CSP hashes of the `<style>` blocks a library template inlines."""
    source = get_template(template_name).template.source
    digests = [
        hashlib.sha256(block.encode()).digest()
        for block in re.findall(r"<style>(.*?)</style>", source, flags=re.DOTALL)
    ]
    return [f"'sha256-{base64.b64encode(digest).decode()}'" for digest in digests]


# Swagger UI's page inlines a few layout rules. Our CSP allows no inline style, so exactly those
# blocks are allowed by hash, computed from the installed template so an upgrade keeps working.
@method_decorator(
    csp_update({"style-src": _inline_style_hashes("drf_spectacular/swagger_ui.html")}),
    name="get",
)
class ApiDocsView(SpectacularSwaggerSplitView):
    """Swagger UI from drf-spectacular-sidecar: every asset from this server, no CDN."""


@extend_schema(exclude=True)
class NotFoundApi(APIView):
    """Any path under /api/v1/ that no route claims: a JSON 404, whatever the method."""

    permission_classes = [permissions.AllowAny]

    def initial(self, request: Request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        raise exceptions.NotFound("No such API endpoint.")
