"""Typed errors that name the input and the check that failed."""

from __future__ import annotations


class SabiscoreError(Exception):
    """Base class of the platform's own errors."""


class RejectedFile(SabiscoreError):
    """A raw file failed a validation check; nothing from it was written.

    ``name`` identifies the file (path or URL), ``check`` the failed check, and
    ``detail`` says what was seen.
    """

    def __init__(self, name: str, check: str, detail: str) -> None:
        self.name = name
        self.check = check
        self.detail = detail
        super().__init__(f"{name}: rejected by check '{check}': {detail}")


class FetchError(SabiscoreError):
    """A download failed (network error, HTTP error, or a block/challenge page)."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"{url}: {reason}")
