"""The navbar's unread-notification badge: one indexed COUNT per signed-in page."""

from django import template

from portfolio.market_selectors import notification_unread_count

register = template.Library()


@register.simple_tag(takes_context=True)
def unread_notifications(context: template.Context) -> int:
    """How many notifications the signed-in reader has not read (0 for anyone else)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return 0
    return notification_unread_count(user=user)
