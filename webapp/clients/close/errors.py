"""Typed outcomes of a Close call. Callers never see raw responses."""


class CloseError(Exception):
    def __init__(self, message, status=None, body=None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.body = body


class CloseAuthError(CloseError):
    """401 that survived a token refresh: the credentials are dead (revoked, member gone, org gone)."""


class CloseRejected(CloseError):
    """Close understood the request and refused it (400/402/403/405/415)."""

    def __init__(self, message, status=None, body=None, errors=None, field_errors=None):
        super().__init__(message, status, body)
        self.errors = errors or []
        self.field_errors = field_errors or {}


class CloseNotFound(CloseRejected):
    """404: the object does not exist or is not visible to this credential."""


class CloseTransient(CloseError):
    """5xx, 429, timeout or network error: try again later.

    `ambiguous` is True when a write may have reached Close (the request was sent but no
    answer arrived), so a retry must look the object up before creating it again.
    """

    def __init__(self, message, status=None, body=None, retry_after=None, ambiguous=False):
        super().__init__(message, status, body)
        self.retry_after = retry_after
        self.ambiguous = ambiguous
