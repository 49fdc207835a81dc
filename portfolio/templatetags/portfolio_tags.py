"""Number display of the portfolio pages: money and percentages as traders read them."""

from decimal import Decimal

from django import template
from django.template.defaultfilters import floatformat

register = template.Library()


@register.filter
def money(value: Decimal | None, places: int = 2) -> str:
    """`1234.5` → `1,234.50`; empty as an em dash."""
    if value is None:
        return "—"
    return floatformat(value, f"{places}g")


@register.filter
def percent(value: Decimal | None, places: int = 2) -> str:
    """A fraction as a percentage: `0.1234` → `12.34 %`; empty as an em dash."""
    if value is None:
        return "—"
    return f"{floatformat(value * 100, f'{places}g')} %"


@register.filter
def plain(value: Decimal | None) -> str:
    """A stored Decimal as people write it: 1500, not 1500.000000000000."""
    if value is None:
        return "—"
    if not value:
        return "0"
    return format(value.normalize(), "f")


@register.filter
def tone(value: Decimal | None) -> str:
    """The text colour class of a gain or a loss."""
    if not value:
        return ""
    return "text-success" if value > 0 else "text-danger"
