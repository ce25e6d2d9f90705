"""Errors shared across domains; each carries a reason a person can read."""

from __future__ import annotations


class CadenzaError(Exception):
    """Base class for every expected, reportable failure."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class StageError(CadenzaError):
    """A pipeline stage rejected its input or failed; `stage` names where."""

    def __init__(self, stage: str, reason: str, *, retryable: bool = False) -> None:
        super().__init__(reason)
        self.stage = stage
        self.retryable = retryable

    def __str__(self) -> str:
        return f"{self.stage}: {self.reason}"


class NotFound(CadenzaError):
    """The requested object does not exist (or is not visible to the caller)."""


class InvalidInput(CadenzaError):
    """A value from outside failed validation."""


class Conflict(CadenzaError):
    """The request is well formed but the object's current state does not allow it (a track already
    taken down, still processing, deleted)."""


class Forbidden(CadenzaError):
    """The caller is known but may not do this."""


class Unavailable(CadenzaError):
    """The service cannot take this request now (a queue is full, a dependency is down): try again later."""

    def __init__(self, reason: str, retry_after: int = 5) -> None:
        super().__init__(reason)
        self.retry_after = retry_after
