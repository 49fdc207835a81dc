"""Template helpers for the pages: Bootstrap classes on form widgets and progress steps."""

from django import forms, template
from django.forms.boundfield import BoundField
from django.utils.safestring import SafeString

register = template.Library()


@register.filter
def widget_kind(field: BoundField) -> str:
    """How a field is laid out: checkbox, choices (radio/checkbox list), select, hidden, input."""
    widget = field.field.widget
    if widget.is_hidden:
        return "hidden"
    if isinstance(widget, forms.CheckboxInput):
        return "checkbox"
    if isinstance(widget, forms.RadioSelect):  # CheckboxSelectMultiple is a RadioSelect too
        return "choices"
    if isinstance(widget, forms.Select | forms.SelectMultiple):
        return "select"
    return "input"


@register.filter
def as_bootstrap(field: BoundField) -> SafeString:
    """Render the widget with Bootstrap's class, marked invalid when the field has errors."""
    kind = widget_kind(field)
    css = {"checkbox": "form-check-input", "select": "form-select"}.get(kind, "form-control")
    classes = [field.field.widget.attrs.get("class", ""), css]
    if field.errors:
        classes.append("is-invalid")
    return field.as_widget(attrs={"class": " ".join(c for c in classes if c)})


@register.filter
def progress_step(value: object) -> int:
    """Round a percentage to the 5% step app.css has a width class for (`progress-w-N`)."""
    try:
        percent = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0
    return int(min(100, max(0, round(percent / 5) * 5)))


@register.filter
def label_in(value: str, labels: dict[str, str]) -> str:
    """The human label of a stored choice value, or the value itself when it has none."""
    return labels.get(value, value)


_BROWSERS = (
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("HeadlessChrome/", "Headless Chrome"),
    ("Chrome/", "Chrome"),
    ("Chromium/", "Chromium"),
    ("Safari/", "Safari"),
)
_SYSTEMS = (
    ("Android", "Android"),
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)


@register.filter
def browser_summary(user_agent: str) -> str:
    """'Firefox on Windows' from a User-Agent string; the raw string when nothing matches."""
    user_agent = user_agent or ""
    browser = next((name for marker, name in _BROWSERS if marker in user_agent), "")
    system = next((name for marker, name in _SYSTEMS if marker in user_agent), "")
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or user_agent or "Unknown browser"


@register.filter
def words(value: str) -> str:
    """A machine name as words: 'price_import' -> 'Price import'."""
    text = str(value or "").replace("_", " ").strip()
    return text[:1].upper() + text[1:]
