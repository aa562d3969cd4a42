"""Typed exceptions for Kraken's spot API errors (PROTOCOL.md §5.5) and for failures around a call.

Kraken reports errors as strings ``<severity><category>:<type>[:<extra>]`` in the ``error`` array, where the
severity is ``E`` (error) or ``W`` (warning). ``raise_for_errors`` turns such an array into one exception
from the hierarchy below and returns the warnings when there is no error.

Every exception keeps the Kraken strings in ``.errors`` (a tuple) and, where known, the ``.endpoint``
(``"AddOrder"``). They never carry request bodies, headers, keys, signatures or tokens.

``retryable`` says whether the condition is transient, so that repeating an *idempotent* call after a
backoff is sensible (the REST client never repeats AddOrder, whatever this says).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = [
    "KrakenError",
    "TransportError",
    "HttpStatusError",
    "InvalidResponse",
    "AuthenticationError",
    "InvalidKey",
    "InvalidSignature",
    "InvalidNonce",
    "InvalidToken",
    "TemporaryLockout",
    "AccountRestricted",
    "PermissionDenied",
    "RateLimited",
    "ApiRateLimited",
    "OrderRateLimited",
    "DomainRateLimited",
    "TooManyRequests",
    "Throttled",
    "LocalRateLimited",
    "ServiceError",
    "ServiceUnavailable",
    "ServiceBusy",
    "InternalError",
    "MarketRestricted",
    "DeadlineElapsed",
    "InvalidArguments",
    "UnknownMethod",
    "UnknownAssetPair",
    "UnknownAsset",
    "OrderRejected",
    "InsufficientFunds",
    "InsufficientMargin",
    "OrderMinimumNotMet",
    "CostMinimumNotMet",
    "TickSizeCheckFailed",
    "InvalidPrice",
    "OrdersLimitExceeded",
    "UnknownOrder",
    "OrderOutcomeUnknown",
    "error_class_for",
    "raise_for_errors",
    "split_errors",
]


class KrakenError(Exception):
    """Base of every Kraken client error. ``errors`` holds Kraken's strings (empty for local failures)."""

    retryable = False

    def __init__(self, message: str = "", *, errors: tuple[str, ...] | list[str] = (), endpoint: str | None = None) -> None:
        self.errors: tuple[str, ...] = tuple(errors)
        self.endpoint = endpoint
        text = message or "; ".join(self.errors) or type(self).__name__
        if endpoint:
            text = f"{endpoint}: {text}"
        super().__init__(text)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


# --- failures around the call -----------------------------------------------------------------------


class TransportError(KrakenError):
    """No usable HTTP response: connection refused or reset, timeout, TLS failure.

    ``may_have_reached_exchange`` is False only when the request certainly never left (connect failed or
    timed out); an AddOrder with True must be resolved by a lookup, never by sending it again.
    """

    retryable = True

    def __init__(self, message: str = "", *, may_have_reached_exchange: bool = True, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.may_have_reached_exchange = may_have_reached_exchange


class HttpStatusError(TransportError):
    """An HTTP error status without a Kraken error body (e.g. a 502 from the edge)."""

    def __init__(self, message: str = "", *, status: int, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.status = status
        self.retryable = status >= 500 or status == 429


class InvalidResponse(KrakenError):
    """A response that is not the JSON Kraken documents (unparseable, no ``result``, wrong shape)."""


# --- authentication and permissions ---------------------------------------------------------------------


class AuthenticationError(KrakenError):
    """The request was not authenticated."""


class InvalidKey(AuthenticationError):
    """``EAPI:Invalid key``."""


class InvalidSignature(AuthenticationError):
    """``EAPI:Invalid signature``."""


class InvalidNonce(AuthenticationError):
    """``EAPI:Invalid nonce``: rejected before any effect, so an idempotent call may retry with a new nonce."""

    retryable = True


class InvalidToken(AuthenticationError):
    """``EAPI:Invalid token``."""


class TemporaryLockout(AuthenticationError):
    """``EGeneral:Temporary lockout`` (too many invalid-key errors)."""


class AccountRestricted(AuthenticationError):
    """``EAuth:Account temporary disabled``, ``EAuth:Account unconfirmed``, ``ESession:Invalid session``."""


class PermissionDenied(KrakenError):
    """``EGeneral:Permission denied`` or ``EAccount:Invalid permissions``: the key lacks a permission."""


# --- rate limits ----------------------------------------------------------------------------------------


class RateLimited(KrakenError):
    """A rate limit was hit (or would be hit). ``retry_after_s`` is a hint when known."""

    retry_after_s: float | None = None


class ApiRateLimited(RateLimited):
    """``EAPI:Rate limit exceeded``: the per-key REST call counter (§6.1)."""


class OrderRateLimited(RateLimited):
    """``EOrder:Rate limit exceeded``: the per-pair trading rate counter (§6.2)."""


class DomainRateLimited(RateLimited):
    """``EOrder:Domain rate limit exceeded``: the account-wide trading limit."""


class TooManyRequests(RateLimited):
    """``EGeneral:Too many requests``, ``EAuth:Too many requests``, ``EAuth:Rate limit exceeded``."""


class Throttled(RateLimited):
    """``EService:Throttled: <unix ts>``: too many concurrent requests; retry after ``retry_at_unix``."""

    retryable = True

    def __init__(self, message: str = "", *, retry_at_unix: Decimal | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_at_unix = retry_at_unix


class LocalRateLimited(RateLimited):
    """Refused by this client before sending: the local counter model says the call would exceed the limit."""

    def __init__(self, message: str = "", *, retry_after_s: float, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after_s = retry_after_s


# --- service state --------------------------------------------------------------------------------------


class ServiceError(KrakenError):
    """The exchange side could not serve the request."""


class ServiceUnavailable(ServiceError):
    """``EService:Unavailable``: matching engine or API offline."""

    retryable = True


class ServiceBusy(ServiceError):
    """``EService:Busy``."""

    retryable = True


class InternalError(ServiceError):
    """``EGeneral:Internal error[:<code>]``."""

    retryable = True


class MarketRestricted(ServiceError):
    """``EService:Market in cancel_only mode`` / ``post_only mode`` (see SystemStatus)."""


class DeadlineElapsed(ServiceError):
    """``EService:Deadline elapsed``: the request's deadline passed before it was processed; nothing was done."""


# --- request content ------------------------------------------------------------------------------------


class InvalidArguments(KrakenError):
    """``EGeneral:Invalid arguments[:...]``, ``EAPI:Bad request``, ``ETrade:Invalid request`` and the like."""


class UnknownMethod(InvalidArguments):
    """``EGeneral:Unknown method``."""


class UnknownAssetPair(InvalidArguments):
    """``EQuery:Unknown asset pair``."""


class UnknownAsset(InvalidArguments):
    """``EQuery:Unknown asset``, ``EFunding:Unknown asset``."""


class OrderRejected(KrakenError):
    """An ``EOrder:`` rejection: the order was not placed (or not changed)."""


class InsufficientFunds(OrderRejected):
    """``EOrder:Insufficient funds``."""


class InsufficientMargin(InsufficientFunds):
    """``EOrder:Insufficient margin``, ``EOrder:Margin level too low``, ``EOrder:Margin allowance exceeded``."""


class OrderMinimumNotMet(OrderRejected):
    """``EOrder:Order minimum not met`` (volume below ``ordermin``)."""


class CostMinimumNotMet(OrderRejected):
    """``EOrder:Cost minimum not met`` (price x volume below ``costmin``)."""


class TickSizeCheckFailed(OrderRejected):
    """``EOrder:Tick size check failed``."""


class InvalidPrice(OrderRejected):
    """``EOrder:Invalid price``."""


class OrdersLimitExceeded(OrderRejected):
    """``EOrder:Orders limit exceeded`` (open orders per pair, §6.2)."""


class UnknownOrder(KrakenError):
    """``EOrder:Unknown order``: no such order (or it is already gone)."""


class OrderOutcomeUnknown(KrakenError):
    """An AddOrder may or may not have been placed, and looking it up by ``cl_ord_id`` did not settle it.

    The order must not be sent again; reconcile it later by ``cl_ord_id`` (OpenOrders / ClosedOrders /
    the executions feed).
    """

    def __init__(self, message: str = "", *, cl_ord_id: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.cl_ord_id = cl_ord_id


# --- mapping --------------------------------------------------------------------------------------------

# Exact "<category>:<type>" prefixes (anything after a further ':' is extra info) -> class.
_EXACT: dict[str, type[KrakenError]] = {
    "EAPI:Invalid key": InvalidKey,
    "EAPI:Invalid signature": InvalidSignature,
    "EAPI:Invalid nonce": InvalidNonce,
    "EAPI:Invalid token": InvalidToken,
    "EAPI:Rate limit exceeded": ApiRateLimited,
    "EAPI:Bad request": InvalidArguments,
    "EGeneral:Invalid arguments": InvalidArguments,
    "EGeneral:Temporary lockout": TemporaryLockout,
    "EGeneral:Permission denied": PermissionDenied,
    "EGeneral:Internal error": InternalError,
    "EGeneral:Unknown method": UnknownMethod,
    "EGeneral:Too many requests": TooManyRequests,
    "EAccount:Invalid permissions": PermissionDenied,
    "EAuth:Account temporary disabled": AccountRestricted,
    "EAuth:Account unconfirmed": AccountRestricted,
    "EAuth:Rate limit exceeded": TooManyRequests,
    "EAuth:Too many requests": TooManyRequests,
    "ESession:Invalid session": AccountRestricted,
    "EService:Unavailable": ServiceUnavailable,
    "EService:Busy": ServiceBusy,
    "EService:Market in cancel_only mode": MarketRestricted,
    "EService:Market in post_only mode": MarketRestricted,
    "EService:Market in limit_only mode": MarketRestricted,
    "EService:Deadline elapsed": DeadlineElapsed,
    "EService:Throttled": Throttled,
    "ETrade:Invalid request": InvalidArguments,
    "EQuery:Unknown asset pair": UnknownAssetPair,
    "EQuery:Unknown asset": UnknownAsset,
    "EFunding:Unknown asset": UnknownAsset,
    "EOrder:Rate limit exceeded": OrderRateLimited,
    "EOrder:Domain rate limit exceeded": DomainRateLimited,
    "EOrder:Insufficient funds": InsufficientFunds,
    "EOrder:Insufficient margin": InsufficientMargin,
    "EOrder:Margin level too low": InsufficientMargin,
    "EOrder:Margin allowance exceeded": InsufficientMargin,
    "EOrder:Order minimum not met": OrderMinimumNotMet,
    "EOrder:Cost minimum not met": CostMinimumNotMet,
    "EOrder:Tick size check failed": TickSizeCheckFailed,
    "EOrder:Invalid price": InvalidPrice,
    "EOrder:Orders limit exceeded": OrdersLimitExceeded,
    "EOrder:Unknown order": UnknownOrder,
}

# Category fallbacks for strings not listed above.
_CATEGORY: dict[str, type[KrakenError]] = {
    "EOrder": OrderRejected,
    "EService": ServiceError,
    "EAPI": AuthenticationError,
    "EAuth": AuthenticationError,
    "EGeneral": KrakenError,
    "EQuery": InvalidArguments,
    "ETrade": InvalidArguments,
}


def _normalize(error: str) -> tuple[str, str]:
    """``("EService", "Throttled")`` from ``"EService: Throttled: 1700000000"``: category and type, stripped."""
    parts = [part.strip() for part in error.split(":")]
    category = parts[0] if parts else ""
    kind = parts[1] if len(parts) > 1 else ""
    return category, kind


def error_class_for(error: str) -> type[KrakenError]:
    """The exception class for one Kraken error string (``KrakenError`` when nothing more specific fits)."""
    category, kind = _normalize(error)
    exact = _EXACT.get(f"{category}:{kind}")
    if exact is not None:
        return exact
    return _CATEGORY.get(category, KrakenError)


def split_errors(errors: list[str] | tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(errors, warnings)``: strings starting with ``E`` and with ``W`` (anything else counts as an error)."""
    hard = tuple(e for e in errors if not str(e).startswith("W"))
    warnings = tuple(e for e in errors if str(e).startswith("W"))
    return hard, warnings


def _specificity(cls: type[KrakenError]) -> int:
    return 0 if cls in (KrakenError, OrderRejected, ServiceError, AuthenticationError, InvalidArguments) else 1


def raise_for_errors(errors: list[str] | tuple[str, ...] | None, *, endpoint: str | None = None) -> tuple[str, ...]:
    """Raise the typed exception for Kraken's ``error`` array, or return its warnings when it has no error.

    With several errors, the first one that maps to a specific class decides the type; ``.errors`` keeps all.
    """
    if not errors:
        return ()
    if not isinstance(errors, (list, tuple)) or not all(isinstance(e, str) for e in errors):
        raise InvalidResponse("'error' is not a list of strings", endpoint=endpoint)
    hard, warnings = split_errors(errors)
    if not hard:
        return warnings
    classes = [error_class_for(e) for e in hard]
    chosen_index = next((i for i, cls in enumerate(classes) if _specificity(cls)), 0)
    cls = classes[chosen_index]
    if cls is Throttled:
        raise Throttled(errors=hard, endpoint=endpoint, retry_at_unix=_throttled_until(hard[chosen_index]))
    raise cls(errors=hard, endpoint=endpoint)


def _throttled_until(error: str) -> Decimal | None:
    parts = [part.strip() for part in error.split(":")]
    if len(parts) < 3:
        return None
    try:
        return Decimal(parts[2])
    except (InvalidOperation, ValueError):
        return None
