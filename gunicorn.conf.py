"""gunicorn settings for Trading Lab's web process (docs/deploy.md).

gunicorn reads `./gunicorn.conf.py` by itself when started from the project root (the Procfile
and the systemd units do); `--config` names it elsewhere. Every value comes from the environment,
so one file serves a laptop, a Procfile platform and a fleet of machines:

    GUNICORN_BIND        address to listen on (default 0.0.0.0:$PORT when PORT is set, else
                         127.0.0.1:8000); ignored under systemd socket activation (LISTEN_FDS)
    WEB_CONCURRENCY      worker processes (default 2 x cores + 1)
    GUNICORN_THREADS     threads per worker (default 1: sync workers; above 1: gthread)
    GUNICORN_TIMEOUT     seconds a request may take before its worker is restarted (30)
    GUNICORN_KEEPALIVE   seconds an idle keep-alive connection stays open (5)
    GUNICORN_MAX_REQUESTS  requests after which a worker is replaced (5000, plus up to 50 %; 0 off)
    FORWARDED_ALLOW_IPS  proxies whose X-Forwarded-Proto gunicorn believes (127.0.0.1,::1)
    GUNICORN_CONTROL_SOCKET  path of gunicorn's control socket (off unless set)
"""

import os
import re

from gunicorn.glogging import Logger


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


if os.environ.get("GUNICORN_BIND"):
    bind = [address.strip() for address in os.environ["GUNICORN_BIND"].split(",")]
elif os.environ.get("PORT"):
    # Procfile platforms hand the port over and route to it from outside the machine.
    bind = [f"0.0.0.0:{os.environ['PORT']}"]
else:
    bind = ["127.0.0.1:8000"]

workers = _int("WEB_CONCURRENCY", 2 * (os.cpu_count() or 1) + 1)
threads = _int("GUNICORN_THREADS", 1)
worker_class = "gthread" if threads > 1 else "sync"
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _int("GUNICORN_KEEPALIVE", 5)
# Replacing workers now and then bounds the memory a slow leak (in us or a library) can take.
# Each replacement costs seconds of imports, and workers that share the load reach the limit
# together (bench/load.py saw all five restart within a second, and stall): a high limit and a
# wide jitter keep that rare and spread out.
max_requests = _int("GUNICORN_MAX_REQUESTS", 5000)
max_requests_jitter = max_requests // 2
# Only these addresses may tell gunicorn the original scheme (X-Forwarded-Proto); Django's own
# SECURE_PROXY_SSL_HEADER and TRUSTED_PROXY_COUNT decide the rest (trading_lab/settings.py).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
proc_name = "trading-lab-web"

# The heartbeat file of each worker on a memory file system: a slow disk must not get healthy
# workers killed for missing their timeout. gunicorn makes the file with mkstemp and unlinks it.
_MEMORY_DIR = "/dev/shm"  # noqa: S108
if os.path.isdir(_MEMORY_DIR):
    worker_tmp_dir = _MEMORY_DIR

# gunicorn 25+ opens a control socket in $HOME by default; two servers on one machine (or a
# service user without a home) would collide, so it is opt-in.
if os.environ.get("GUNICORN_CONTROL_SOCKET"):
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]
else:
    control_socket_disable = True

# Both logs to standard output/error: systemd's journal or the platform collects them. The app's
# own log lines (JSON in production) carry the same request id as the access line.
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms request_id=%({x-request-id}o)s "%(a)s"'

# Path segments that are secrets: allauth's password-reset and email-confirmation keys.
_SECRET_PATHS = re.compile(r"^(/accounts/(?:password/reset/key|confirm-email)/)[^/]+")


class AccessLogger(Logger):
    """gunicorn's logger without secrets in access lines: no query strings (OAuth codes and
    states travel there), and the keys in reset and confirmation links replaced by `***`."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        path = _SECRET_PATHS.sub(r"\1***", environ.get("PATH_INFO", ""))
        atoms["U"] = path
        atoms["q"] = ""
        atoms["r"] = f"{environ['REQUEST_METHOD']} {path} {environ['SERVER_PROTOCOL']}"
        return atoms


logger_class = AccessLogger


def post_worker_init(worker) -> None:
    """Import the URLconf, and with it every view, before the worker takes a request.

    Django imports it on the first request, which then takes seconds (the API, the admin, the
    broker clients): a new or replaced worker would keep its first callers waiting.
    """
    from importlib import import_module

    from django.conf import settings

    import_module(settings.ROOT_URLCONF)
