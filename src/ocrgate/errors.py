"""One error type for the whole service; each API dialect renders it (spec §8).

Engines, image loading and task parsing raise :class:`OcrError`; the edge never
guesses a status code. Messages often quote what the client sent, so every text of an
error is made safe when the error is created (:func:`safe_text`): lone UTF-16
surrogates, NULs, controls and invisible format characters are written as escapes
(``\\ud800``, ``\\x00``) and the text is cut to :data:`MAX_MESSAGE_CHARS`, so any error can
be rendered as UTF-8 JSON or XML and logged on one line.
"""

from __future__ import annotations

from dataclasses import dataclass

# native code -> (compatible type, compatible code), spec §8.3
_COMPAT: dict[str, tuple[str, str]] = {
    "InvalidParameter": ("invalid_request_error", "invalid_parameter_error"),
    "BadRequest.EmptyInput": ("invalid_request_error", "invalid_parameter_error"),
    "BadRequest.EmptyModel": ("invalid_request_error", "invalid_parameter_error"),
    "BadRequest.TooLarge": ("invalid_request_error", "invalid_parameter_error"),
    "BadRequest.UnsupportedFileFormat": ("invalid_request_error", "invalid_parameter_error"),
    "BadRequest.InputDownloadFailed": ("invalid_request_error", "invalid_parameter_error"),
    "InvalidApiKey": ("invalid_request_error", "invalid_api_key"),
    "AccessDenied": ("invalid_request_error", "access_denied"),
    "ModelNotFound": ("invalid_request_error", "model_not_found"),
    "RequestTimeOut": ("request_timeout", "request_timeout"),
    "Throttling": ("limit_requests", "limit_requests"),
    "Throttling.RateQuota": ("limit_requests", "limit_requests"),
    "Throttling.AllocationQuota": ("insufficient_quota", "Throttling.AllocationQuota"),
    "InternalError": ("internal_error", "internal_error"),
    "InternalError.Algo": ("internal_error", "internal_error"),
    "InternalError.Timeout": ("internal_error", "internal_error"),
    "ModelUnavailable": ("service_unavailable", "service_unavailable"),
    # [CHOICE] a file or batch id that the caller's account does not have (spec §10)
    "NotFound": ("invalid_request_error", "not_found"),
    # [CHOICE] errors of the HTTP layer itself (unknown path, wrong method)
    "InvalidURL": ("invalid_request_error", "invalid_url"),
    "MethodNotAllowed": ("invalid_request_error", "method_not_allowed"),
}

MAX_MESSAGE_CHARS = 1000
"""Longest error message, param or echoed value sent back (longer ones are cut)."""
MAX_ECHO_CHARS = 100
"""Longest client value quoted inside a message (:func:`echo`)."""
_CUT = "...(truncated)"


def _escape(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe_text(text: object, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``text`` as a printable one-line string of at most ``limit`` characters."""
    raw = text if isinstance(text, str) else str(text)
    if len(raw) > limit:
        raw = raw[: limit - len(_CUT)]
        cut = True
    else:
        cut = False
    if not raw.isprintable():  # cheap test; the slow path only runs on odd text
        # lone surrogates (not encodable as UTF-8), NUL and other controls (break XML and
        # log lines), invisible format characters (bidi overrides, zero-width spaces: they
        # make a quoted value read as something else)
        raw = "".join(ch if ch.isprintable() else _escape(ch) for ch in raw)
        if len(raw) > limit - (len(_CUT) if cut else 0):
            raw, cut = raw[: limit - len(_CUT)], True
    return raw + _CUT if cut else raw


def echo(value: object, limit: int = MAX_ECHO_CHARS) -> str:
    """A client-supplied value, made safe and short, for quoting inside a message."""
    return safe_text(value, limit)

ALGO_PREFIX = "<400> InternalError.Algo.InvalidParameter: "


@dataclass
class OcrError(Exception):
    """An error with an HTTP status, a native (DashScope) code and a message.

    ``compat_message`` overrides the message in the OpenAI-compatible dialect where
    the hosted service words it differently (e.g. the API-key error).
    """

    status: int
    code: str
    message: str
    param: str | None = None
    compat_message: str | None = None
    retry_after_s: int | None = None
    """Seconds for the ``Retry-After`` header of a 429 (1 when unset)."""

    def __post_init__(self) -> None:
        self.message = safe_text(self.message)
        if self.param is not None:
            self.param = safe_text(self.param, MAX_ECHO_CHARS)
        if self.compat_message is not None:
            self.compat_message = safe_text(self.compat_message)
        super().__init__(self.message)

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"

    @property
    def compat_type(self) -> str:
        return _COMPAT.get(self.code, ("invalid_request_error", "invalid_parameter_error"))[0]

    @property
    def compat_code(self) -> str:
        return _COMPAT.get(self.code, ("invalid_request_error", "invalid_parameter_error"))[1]


def invalid_parameter(message: str, param: str | None = None) -> OcrError:
    return OcrError(400, "InvalidParameter", message, param)


def image_invalid(message: str, param: str | None = None) -> OcrError:
    """An image that violates the model's limits: hosted prefixes the algo tag (spec §5.2)."""
    return OcrError(400, "InvalidParameter", ALGO_PREFIX + message, param)


def too_large(message: str) -> OcrError:
    return OcrError(400, "BadRequest.TooLarge", message)


def unsupported_format(message: str = "Input file format is not supported.") -> OcrError:
    return OcrError(400, "InvalidParameter", ALGO_PREFIX + message)


def download_failed(message: str) -> OcrError:
    return OcrError(400, "InvalidParameter", message)


def invalid_api_key() -> OcrError:
    return OcrError(401, "InvalidApiKey", "Invalid API-key provided.",
                    compat_message="Incorrect API key provided.")


def model_not_found(model: str) -> OcrError:
    return OcrError(404, "ModelNotFound", "Model can not be found.",
                    param="model",
                    compat_message=f"The model `{echo(model)}` does not exist or you do not have access to it.")


def not_found(kind: str, object_id: str, param: str = "id") -> OcrError:
    """No such file or batch for this account (another account's is absent too)."""
    return OcrError(404, "NotFound", f"No such {kind} object: {echo(object_id)}.", param=param)


def rate_quota(retry_after_s: int) -> OcrError:
    """RPM exceeded for the account (or key) and model (spec §9.3)."""
    return OcrError(429, "Throttling.RateQuota", "Requests rate limit exceeded, please try again later.",
                    retry_after_s=retry_after_s)


def allocation_quota(retry_after_s: int) -> OcrError:
    """TPM exceeded for the account (or key) and model (spec §9.3)."""
    return OcrError(429, "Throttling.AllocationQuota",
                    "Allocated quota exceeded, please increase your quota limit.",
                    retry_after_s=retry_after_s)


def internal_error(detail: str | None = None) -> OcrError:
    msg = "An internal error has occured, please try again later or contact service support."
    return OcrError(500, "InternalError", msg if not detail else f"{msg} ({detail})")
