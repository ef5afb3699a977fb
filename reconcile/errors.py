"""The one error tree of rlstate; raising only — the CLI alone prints errors and picks exit codes.

RlstateError                      base: every error rlstate means to report (exit 1)
├── UserError                     the user's input is wrong; one clear line, no traceback
│   ├── ManifestError             one or more problems in a manifest (file:line:col: path: msg)
│   ├── PlanFileError             a saved plan cannot be read or is of another format
│   ├── StalePlanError            a saved plan no longer matches the manifest or live state
│   ├── ProtectedResourceError    the plan would delete/replace a prevent_destroy resource
│   ├── ConfirmationRequired      apply/destroy needs --yes (no terminal to ask on)
│   ├── AdoptionError             an `import:` entry cannot be carried out (owner, content, …)
│   └── ConfigError               bad flags/environment (API URL, key, data dir)
├── LockError                     another rlstate run holds the stack's lock
│   └── LockLostError             this run lost the stack's lock mid-run (stops before a write)
├── BackendError                  the lock backend (PostgreSQL) cannot be used: down, refused
├── ApiError                      the Runloop API failed us
│   ├── RetryableApiError         worth trying again (the client already did, with backoff)
│   │   ├── ApiConnectionError    could not connect, or the connection dropped
│   │   ├── ApiTimeoutError       no answer in time (client timeout or HTTP 408)
│   │   ├── ApiRateLimitError     HTTP 429
│   │   └── ApiServerError        HTTP 5xx
│   └── TerminalApiError          trying again will not help
│       ├── ApiAuthError          HTTP 401/403 (bad or missing key)
│       ├── ApiNotFoundError      HTTP 404
│       ├── ApiConflictError      HTTP 409 (wrong state for the operation)
│       ├── ApiBadRequestError    HTTP 400/422 (the server rejected the request)
│       └── ApiProtocolError      an answer we cannot understand (bad JSON, wrong shape)
├── OperationError                an apply/retain step failed for a reason of its own
│   ├── SnapshotFailedError       a disk snapshot ended in `error`
│   ├── DevboxFailedError         a devbox ended in `failure`/`shutdown` while we waited
│   └── SetupCommandError         a `setup` command exited non-zero
└── LocalBackendError             the embedded local backend could not start

Interrupted (a BaseException, not an RlstateError): SIGINT or SIGTERM ended the command; the
CLI says so in one line and exits 128 + the signal's number.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass


class RlstateError(Exception):
    """Base of every error rlstate reports; its str() is the one line the user sees."""


class UserError(RlstateError):
    """The user's input (manifest, flags, plan file) is wrong."""


@dataclass(frozen=True)
class ManifestProblem:
    """One problem in a manifest, located by file, line, column and field path."""

    file: str
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ManifestError(UserError):
    """A manifest has one or more problems; all of them are carried, sorted by position."""

    def __init__(self, problems: list[ManifestProblem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.file, p.line, p.column, p.path))
        super().__init__("\n".join(str(p) for p in self.problems))


class PlanFileError(UserError):
    """A saved plan file cannot be used."""


class StalePlanError(UserError):
    """A saved plan was made against a manifest or live state that has since changed."""


class ProtectedResourceError(UserError):
    """The plan deletes or replaces a resource with lifecycle.prevent_destroy."""


class ConfirmationRequired(UserError):
    """A destructive command needs --yes because there is no terminal to ask on."""


class AdoptionError(UserError):
    """An `import:` entry names a resource that cannot be adopted: missing, another stack's,
    ended, or (an object) not the manifest's content."""


class ConfigError(UserError):
    """Flags or environment are wrong (API URL, key, data folder)."""


class LockError(RlstateError):
    """Another rlstate run holds this stack's lock."""


class LockLostError(LockError):
    """This run no longer holds the stack's lock (its backend connection was lost)."""


class BackendError(RlstateError):
    """The lock and history backend cannot be used (unreachable, refused, missing grants)."""


class ApiError(RlstateError):
    """The Runloop API failed; carries the HTTP status (if any) and the request that failed."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        method: str = "",
        path: str = "",
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.method = method
        self.path = path
        self.retry_after = retry_after
        self.detail = message
        where = f"{method} {path}".strip()
        code = f" ({status})" if status is not None else ""
        super().__init__(f"{where}{code}: {message}" if where else f"{message}{code}")


class RetryableApiError(ApiError):
    """An API failure that may succeed if tried again."""


class ApiConnectionError(RetryableApiError):
    """Could not connect to the API, or the connection dropped mid-request."""


class ApiTimeoutError(RetryableApiError):
    """The API did not answer in time (client timeout or HTTP 408)."""


class ApiRateLimitError(RetryableApiError):
    """The API answered 429 Too Many Requests."""


class ApiServerError(RetryableApiError):
    """The API answered with a 5xx status."""


class TerminalApiError(ApiError):
    """An API failure that trying again will not fix."""


class ApiAuthError(TerminalApiError):
    """The API key is missing or wrong (401/403)."""


class ApiNotFoundError(TerminalApiError):
    """The resource does not exist (404)."""


class ApiConflictError(TerminalApiError):
    """The resource is in the wrong state for the operation (409)."""


class ApiBadRequestError(TerminalApiError):
    """The API rejected the request as malformed (400/422)."""


class ApiProtocolError(TerminalApiError):
    """The API answered with something we cannot understand."""


class OperationError(RlstateError):
    """One apply/retain operation failed for a reason of its own (not a transport error)."""


class SnapshotFailedError(OperationError):
    """A disk snapshot ended in `error`."""


class DevboxFailedError(OperationError):
    """A devbox ended in `failure` or `shutdown` while rlstate waited for it."""


class BlueprintBuildError(OperationError):
    """A blueprint build ended in `failed`; the message carries its build log's tail."""


class SetupCommandError(OperationError):
    """A setup command exited non-zero; the message carries its exit status and output tail."""


class LocalBackendError(RlstateError):
    """The embedded local backend could not be started."""


class Interrupted(BaseException):
    """SIGINT or SIGTERM ended the command (its cleanup ran); exit status 128 + `signum`.

    A BaseException, so that no `except Exception` swallows it on its way out (and not a
    KeyboardInterrupt, which the CLI framework would turn into a silent exit 130)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    def __str__(self) -> str:
        try:
            return f"interrupted by {signal.Signals(self.signum).name}"
        except ValueError:
            return f"interrupted by signal {self.signum}"
