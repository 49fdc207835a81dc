"""Pages and endpoints of the audit area."""

from http import HTTPStatus

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_safe

from audit.health import health_report


@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """Public liveness and readiness: 200 when every check passes, else 503 (SPEC §3 Health)."""
    report = health_report()
    status = HTTPStatus.OK if report.healthy else HTTPStatus.SERVICE_UNAVAILABLE
    response = JsonResponse(report.as_dict(), status=status)
    # Load balancers and monitors must see the state now, never a cached answer.
    response["Cache-Control"] = "no-store"
    return response
