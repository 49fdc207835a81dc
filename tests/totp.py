"""TOTP codes for tests, computed like an authenticator app would (pyotp), never stale."""

import time

import pyotp

PERIOD = 30
# A code read this close to the end of its 30 s window may be stale when the server checks
# it (allauth allows no clock drift by default), so wait for the next window instead.
SAFETY_MARGIN = 3.0


def current_code(secret: str) -> str:
    left = PERIOD - time.time() % PERIOD
    if left < SAFETY_MARGIN:
        time.sleep(left + 0.1)
    return pyotp.TOTP(secret).now()
