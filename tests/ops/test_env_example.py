"""`.env.example` lists every setting the settings module reads, and nothing else."""

import re
from pathlib import Path

from django.conf import settings

from trading_lab import settings as project_settings

BASE_DIR = Path(settings.BASE_DIR)
READ = re.compile(r"""\benv(?:\.\w+)?\(\s*(f?)"([^"]+)\"""")
LISTED = re.compile(r"^#?([A-Z][A-Z0-9_]*)=", re.MULTILINE)


def settings_read() -> set[str]:
    """Names read through django-environ in trading_lab/settings.py, f-strings expanded."""
    source = (BASE_DIR / "trading_lab" / "settings.py").read_text()
    names = set()
    for is_fstring, name in READ.findall(source):
        if is_fstring:
            # The social providers: one client id and secret per provider.
            for provider in project_settings._SOCIAL_PROVIDERS:
                names.add(name.replace("{_provider.upper()}", provider.upper()))
        else:
            names.add(name)
    return names


def test_env_example_lists_exactly_the_settings_that_settings_py_reads():
    listed = LISTED.findall((BASE_DIR / ".env.example").read_text())

    assert sorted(set(listed)) == sorted(settings_read())
    assert len(listed) == len(set(listed)), "a setting is listed twice"
