"""Template context every page needs."""

from django.http import HttpRequest

from accounts.models import Theme


def ui(request: HttpRequest) -> dict:
    """The theme to render with: the signed-in user's preference, else the system's."""
    theme = Theme.SYSTEM
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        preferences = getattr(user, "preferences", None)
        if preferences is not None:
            theme = preferences.theme
    return {"ui_theme": theme}
