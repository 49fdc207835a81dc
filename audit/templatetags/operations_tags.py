"""Template tags of the admin: the open staff alerts shown on every admin page."""

from django import template

from audit.models import StaffAlert

register = template.Library()


@register.simple_tag(takes_context=True)
def open_staff_alert_count(context: template.Context) -> int:
    """How many staff alerts are open; 0 (and no query) for anyone who is not staff."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not getattr(user, "is_staff", False):
        return 0
    return StaffAlert.objects.filter(resolved_at__isnull=True).count()
