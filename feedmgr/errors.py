"""One exception hierarchy for everything feedmgr refuses to do.

Every error names the file or subject it is about and says what is wrong in one line; the
CLI prints ``feedmgr: error: <subject>: <problem>`` and exits with the class's exit code.
Third-party exceptions are re-raised as one of these with ``raise ... from exc``.
"""

from __future__ import annotations

from enum import IntEnum
from typing import ClassVar


class ExitCode(IntEnum):
    """The process exit codes, the same for every command (documented in the README)."""

    OK = 0
    CHECKS_FAILED = 1
    USAGE = 2
    INPUT_REJECTED = 3
    NETWORK = 4
    STORE = 5
    INTERNAL = 70


class FeedmgrError(Exception):
    """Root of every error feedmgr raises on purpose.

    ``subject`` is the file, URL, host or item the error is about; ``problem`` says what is
    wrong with it. ``details`` carries structured data so tests compare values, not text.
    """

    exit_code: ClassVar[ExitCode] = ExitCode.INTERNAL

    def __init__(self, subject: str, problem: str, **details: object) -> None:
        super().__init__(f"{subject}: {problem}")
        self.subject = subject
        self.problem = problem
        self.details = details

    def __reduce__(self) -> tuple[type[FeedmgrError], tuple[str, str], dict[str, object]]:
        # Errors raised in a worker process travel back pickled; the default reduction
        # would call __init__ with the one formatted message only.
        return type(self), (self.subject, self.problem), self.__dict__

    def diagnostics(self) -> str:
        """Return the one-line explanation printed after ``feedmgr: error:``, with the
        control characters of quoted outside text escaped (``feedmgr.escape``)."""
        from feedmgr.escape import escape_controls

        return escape_controls(f"{self.subject}: {self.problem}")


class UsageError(FeedmgrError):
    """The command line or configuration asks for something that cannot be done."""

    exit_code = ExitCode.USAGE


class InputRejected(FeedmgrError):
    """A file or piece of data is invalid, unverifiable or hostile."""

    exit_code = ExitCode.INPUT_REJECTED


class ArchiveError(InputRejected):
    """A feed zip is damaged, malformed, or breaks a safety rule (paths, sizes, types)."""


class IntegrityError(InputRejected):
    """Content does not match its announced digest or size."""


class SignatureError(InputRejected):
    """A signature is missing, malformed, made by an untrusted key, or does not verify."""


class SchemaError(InputRejected):
    """A document parsed but does not follow its documented schema."""


class ParseError(InputRejected):
    """Text could not be parsed at all (an OS string, a log, a certificate...)."""


class VersionRejected(InputRejected):
    """A feed is expired, or not newer than the active one when that is required."""


class NetworkError(FeedmgrError):
    """A remote server could not be reached, or answered with an error."""

    exit_code = ExitCode.NETWORK


class StoreError(FeedmgrError):
    """The local store is damaged, or could not be locked or written."""

    exit_code = ExitCode.STORE


class StoreLockedError(StoreError):
    """Another feedmgr process held the store lock for longer than we were willing to wait."""
