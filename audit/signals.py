"""Receivers that turn sign-in and account events into activity log rows."""
