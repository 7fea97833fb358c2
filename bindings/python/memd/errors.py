"""Errors: one exception class per memd.v1 Code, each carrying the daemon's
status code and message.

    MemdError                     every error below (.code, .message)
    ├── InvalidArgument           also a ValueError
    ├── NotFound                  also a LookupError; may carry a partial result
    ├── TooLarge
    ├── ResourceExhausted         worth retrying with backoff
    ├── StoreFull
    ├── Unavailable               memd is down, unreachable or shutting down
    │   └── Timeout               memd took the request but did not answer in time
    │                             (also a TimeoutError)
    ├── PermissionDenied          e.g. a stale job fence: drop the result
    └── Internal                  from verify(): .result lists the problems

Unavailable is raised both when memd answers UNAVAILABLE ("memd is shutting
down") and when the client cannot reach it before the call's deadline;
Timeout when the request went out and no reply came back in time.
"""
from .types import Code


class MemdError(Exception):
    """An error from memd, or from reaching it. .code is a Code, .message the text."""

    code = Code.INTERNAL

    def __init__(self, message, *, code=None, request_id=0):
        super().__init__(message)
        if code is not None:
            self.code = Code(code)
        self.message = message
        self.request_id = request_id

    def __str__(self):
        return "%s: %s" % (getattr(self.code, "name", self.code), self.message)


class InvalidArgument(MemdError, ValueError):
    code = Code.INVALID_ARGUMENT


class NotFound(MemdError, LookupError):
    """Some ids were not found. Get and Forget still did the rest: .missing
    lists the ids not found; Get sets .records (the ones found), Forget
    .forgotten, Retry/Purge .count."""

    code = Code.NOT_FOUND
    missing = ()


class TooLarge(MemdError):
    code = Code.TOO_LARGE


class ResourceExhausted(MemdError):
    code = Code.RESOURCE_EXHAUSTED


class StoreFull(MemdError):
    code = Code.STORE_FULL


class Unavailable(MemdError):
    code = Code.UNAVAILABLE


class Timeout(Unavailable, TimeoutError):
    """No reply within the call's timeout (the request was sent). memd may
    still carry it out: a capture that timed out may be stored."""


class PermissionDenied(MemdError):
    code = Code.PERMISSION_DENIED


class Internal(MemdError):
    """memd failed inside, or (from Client.verify) found its store
    inconsistent: then .result is the VerifyResult with the problems."""

    code = Code.INTERNAL
    result = None


_BY_CODE = {
    Code.INVALID_ARGUMENT: InvalidArgument,
    Code.NOT_FOUND: NotFound,
    Code.TOO_LARGE: TooLarge,
    Code.RESOURCE_EXHAUSTED: ResourceExhausted,
    Code.STORE_FULL: StoreFull,
    Code.UNAVAILABLE: Unavailable,
    Code.PERMISSION_DENIED: PermissionDenied,
    Code.INTERNAL: Internal,
}


def error_for(code, message, request_id=0):
    """The exception for a non-OK status. A code this client does not know
    (a newer memd) becomes a plain MemdError that keeps the number."""
    try:
        code = Code(code)
    except ValueError:
        err = MemdError(message or "memd answered code %d" % code, request_id=request_id)
        err.code = code
        return err
    cls = _BY_CODE.get(code, MemdError)
    return cls(message or "memd answered %s" % code.name, code=code, request_id=request_id)
