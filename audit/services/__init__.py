"""Writes of the audit area, one module per use case, re-exported here."""

from audit.services.activity import (
    ChainProblem,
    activity_chain_verify,
    activity_record,
    activity_row_hash,
)

__all__ = [
    "ChainProblem",
    "activity_chain_verify",
    "activity_record",
    "activity_row_hash",
]
