"""Fixtures of the operations tests."""
