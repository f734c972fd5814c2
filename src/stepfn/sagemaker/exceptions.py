"""Exceptions under sagemaker v2's module path (``sagemaker.exceptions``), so ``except`` clauses port unchanged."""

from __future__ import annotations


class UnexpectedStatusException(ValueError):
    """A job or endpoint ended in a status other than the ones the caller waited for (sagemaker v2's class)."""

    def __init__(self, message: str, allowed_statuses: list[str], actual_status: str) -> None:
        self.allowed_statuses = allowed_statuses
        self.actual_status = actual_status
        super().__init__(message)


__all__ = ["UnexpectedStatusException"]
