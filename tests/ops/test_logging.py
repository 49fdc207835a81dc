"""Log lines carry the request id; production writes them as JSON lines."""

import json
import logging
import subprocess
import sys

from django.http import HttpResponse
from django.test import RequestFactory

from tests.ops.test_production import BASE_DIR, manage, production_env  # noqa: F401 (fixture)
from trading_lab.log import NO_REQUEST, RequestIdFilter
from trading_lab.middleware import RequestIdMiddleware

logger = logging.getLogger("tests.ops.logging")


def _record(message: str) -> logging.LogRecord:
    record = logger.makeRecord(logger.name, logging.WARNING, __file__, 1, message, None, None)
    RequestIdFilter().filter(record)
    return record


def test_a_line_logged_while_serving_a_request_carries_its_id_and_later_lines_do_not():
    seen = {}

    def view(request):
        seen["record"] = _record("inside the request")
        return HttpResponse("ok")

    response = RequestIdMiddleware(view)(RequestFactory().get("/"))

    assert seen["record"].request_id == response["X-Request-ID"]
    assert len(response["X-Request-ID"]) == 32
    assert _record("after the request").request_id == NO_REQUEST


JSON_SCRIPT = """
import logging, django
django.setup()
from trading_lab.middleware import RequestIdMiddleware
from django.http import HttpResponse
from django.test import RequestFactory

def view(request):
    logging.getLogger("trading_lab.demo").warning("a line with %s", "arguments")
    return HttpResponse("ok")

response = RequestIdMiddleware(view)(RequestFactory().get("/"))
print("REQUEST-ID", response["X-Request-ID"])
"""


def test_production_logs_are_json_lines_with_time_level_logger_and_request_id(production_env):  # noqa: F811
    production_env["DJANGO_SETTINGS_MODULE"] = "trading_lab.settings"

    result = subprocess.run(
        [sys.executable, "-c", JSON_SCRIPT],
        cwd=BASE_DIR,
        env=production_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    request_id = result.stdout.split("REQUEST-ID", 1)[1].strip()
    [line] = [json.loads(text) for text in result.stderr.splitlines() if "a line with" in text]
    assert line["message"] == "a line with arguments"
    assert line["level"] == "WARNING"
    assert line["logger"] == "trading_lab.demo"
    assert line["request_id"] == request_id
    assert line["time"]


def test_an_unknown_log_format_stops_start_up_naming_it(production_env):  # noqa: F811
    production_env["LOG_FORMAT"] = "xml"

    result = manage(production_env, "check")

    assert result.returncode != 0
    assert "LOG_FORMAT must be plain or json" in result.stderr
