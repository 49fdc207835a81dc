#!/usr/bin/env python
"""Django's command-line utility for Trading Lab."""

import os
import sys

HINT = (
    "For development, set DEBUG=true (the Makefile does); for production, see .env.example and "
    "docs/deploy.md."
)


def _settings_given(argv: list[str]) -> bool:
    return any(
        arg in ("--settings", "--pythonpath") or arg.startswith(("--settings=", "--pythonpath="))
        for arg in argv
    )


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trading_lab.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    if not _settings_given(sys.argv[1:]):
        # Settings that refuse to load (production mode without its secrets) are one clear
        # line and exit status 1, not Django's traceback, which for some commands ends in an
        # unrelated AppRegistryNotReady. With --settings, Django loads them itself.
        from django.conf import settings

        try:
            settings.INSTALLED_APPS  # noqa: B018 (loads the settings module)
        except ImproperlyConfigured as exc:
            sys.stderr.write(f"ImproperlyConfigured: {exc}\n{HINT}\n")
            sys.exit(1)
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
