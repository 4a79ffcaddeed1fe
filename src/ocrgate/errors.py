"""One error type for the whole service; each API dialect renders it (spec §8).

Engines, image loading and task parsing raise :class:`OcrError`; the edge never
guesses a status code.
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
    "InvalidURL": ("invalid_request_error", "invalid_parameter_error"),
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
}

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
                    compat_message=f"The model `{model}` does not exist or you do not have access to it.")


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
