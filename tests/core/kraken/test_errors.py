"""Kraken error strings to typed exceptions (PROTOCOL.md §5.5)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kraken_runtime.core.kraken import errors as e

MAPPING = [
    ("EGeneral:Invalid arguments", e.InvalidArguments),
    ("EGeneral:Invalid arguments:Index unavailable", e.InvalidArguments),
    ("EGeneral:Temporary lockout", e.TemporaryLockout),
    ("EService:Unavailable", e.ServiceUnavailable),
    ("EService:Busy", e.ServiceBusy),
    ("EService:Market in cancel_only mode", e.MarketRestricted),
    ("EService:Market in post_only mode", e.MarketRestricted),
    ("EService:Deadline elapsed", e.DeadlineElapsed),
    ("EAPI:Invalid key", e.InvalidKey),
    ("EAPI:Invalid signature", e.InvalidSignature),
    ("EAPI:Invalid nonce", e.InvalidNonce),
    ("EAPI:Invalid token", e.InvalidToken),
    ("EAPI:Bad request", e.InvalidArguments),
    ("EGeneral:Permission denied", e.PermissionDenied),
    ("EAccount:Invalid permissions", e.PermissionDenied),
    ("EGeneral:Internal error", e.InternalError),
    ("EGeneral:Internal error:12345", e.InternalError),
    ("EGeneral:Unknown method", e.UnknownMethod),
    ("EOrder:Cannot open opposing position", e.OrderRejected),
    ("EOrder:Insufficient margin", e.InsufficientMargin),
    ("EOrder:Margin level too low", e.InsufficientMargin),
    ("EOrder:Insufficient funds", e.InsufficientFunds),
    ("EOrder:Order minimum not met", e.OrderMinimumNotMet),
    ("EOrder:Cost minimum not met", e.CostMinimumNotMet),
    ("EOrder:Tick size check failed", e.TickSizeCheckFailed),
    ("EOrder:Orders limit exceeded", e.OrdersLimitExceeded),
    ("EOrder:Rate limit exceeded", e.OrderRateLimited),
    ("EOrder:Domain rate limit exceeded", e.DomainRateLimited),
    ("EOrder:Invalid price", e.InvalidPrice),
    ("EOrder:Invalid order", e.OrderRejected),
    ("EOrder:Unknown order", e.UnknownOrder),
    ("EOrder:Reduce only:No position exists", e.OrderRejected),
    ("EAuth:Account temporary disabled", e.AccountRestricted),
    ("EAuth:Rate limit exceeded", e.TooManyRequests),
    ("EAuth:Too many requests", e.TooManyRequests),
    ("EGeneral:Too many requests", e.TooManyRequests),
    ("EAPI:Rate limit exceeded", e.ApiRateLimited),
    ("ETrade:Invalid request", e.InvalidArguments),
    ("EQuery:Unknown asset pair", e.UnknownAssetPair),
    ("EQuery:Unknown asset", e.UnknownAsset),
    ("ESession:Invalid session", e.AccountRestricted),
    ("EService: Throttled: 1700000000", e.Throttled),
    ("EBM:limit exceeded:CAL", e.KrakenError),
    ("ESomethingNew:Never seen", e.KrakenError),
]


@pytest.mark.parametrize(("error", "expected"), MAPPING)
def test_raise_for_errors_when_kraken_reports_error_then_raises_its_type(error, expected):
    with pytest.raises(e.KrakenError) as info:
        e.raise_for_errors([error], endpoint="AddOrder")
    assert type(info.value) is expected
    assert info.value.errors == (error,)
    assert info.value.endpoint == "AddOrder"
    assert error in str(info.value)


def test_rate_limit_errors_when_mapped_then_api_and_order_limits_are_distinguished():
    with pytest.raises(e.RateLimited) as api:
        e.raise_for_errors(["EAPI:Rate limit exceeded"])
    with pytest.raises(e.RateLimited) as order:
        e.raise_for_errors(["EOrder:Rate limit exceeded"])
    assert isinstance(api.value, e.ApiRateLimited) and not isinstance(api.value, e.OrderRateLimited)
    assert isinstance(order.value, e.OrderRateLimited) and not isinstance(order.value, e.ApiRateLimited)


def test_raise_for_errors_when_empty_then_returns_no_warnings():
    assert e.raise_for_errors([]) == ()
    assert e.raise_for_errors(None) == ()


def test_raise_for_errors_when_only_warnings_then_returns_them_without_raising():
    assert e.raise_for_errors(["WGeneral:Something odd"]) == ("WGeneral:Something odd",)


def test_raise_for_errors_when_several_errors_then_first_specific_decides_and_all_are_kept():
    errors = ["EGeneral:Something unlisted", "EOrder:Insufficient funds", "WGeneral:note"]
    with pytest.raises(e.InsufficientFunds) as info:
        e.raise_for_errors(errors)
    assert info.value.errors == ("EGeneral:Something unlisted", "EOrder:Insufficient funds")


def test_raise_for_errors_when_throttled_then_carries_retry_time():
    with pytest.raises(e.Throttled) as info:
        e.raise_for_errors(["EService:Throttled:1700000123.5"])
    assert info.value.retry_at_unix == Decimal("1700000123.5")
    assert info.value.retryable


def test_raise_for_errors_when_error_is_not_a_list_of_strings_then_invalid_response():
    with pytest.raises(e.InvalidResponse):
        e.raise_for_errors("EGeneral:Invalid arguments")  # type: ignore[arg-type]
    with pytest.raises(e.InvalidResponse):
        e.raise_for_errors([{"field": "x"}])  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("error", "retryable"),
    [
        ("EService:Unavailable", True),
        ("EService:Busy", True),
        ("EGeneral:Internal error", True),
        ("EAPI:Invalid nonce", True),
        ("EAPI:Rate limit exceeded", False),
        ("EOrder:Insufficient funds", False),
        ("EAPI:Invalid key", False),
        ("EGeneral:Invalid arguments", False),
        ("EService:Deadline elapsed", False),
    ],
)
def test_retryable_when_error_is_mapped_then_only_transient_conditions_are_retryable(error, retryable):
    assert e.error_class_for(error).retryable is retryable


def test_http_status_error_when_server_side_then_retryable_and_client_side_not():
    assert e.HttpStatusError(status=502).retryable
    assert e.HttpStatusError(status=429).retryable
    assert not e.HttpStatusError(status=401).retryable


def test_order_outcome_unknown_when_raised_then_carries_cl_ord_id():
    exc = e.OrderOutcomeUnknown("lost", cl_ord_id="abc", endpoint="AddOrder")
    assert exc.cl_ord_id == "abc" and "AddOrder" in str(exc)
    assert not exc.retryable
