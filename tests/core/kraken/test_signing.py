"""API-Sign against every documented/golden vector (the nonce source is tested in test_rest_nonces.py)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path

import pytest

from kraken_runtime.core.kraken.signing import decode_secret, sign


def _spot_vectors(kraken_data: Path) -> list[dict]:
    document = json.loads((kraken_data / "vectors" / "api_sign_vectors.json").read_text())
    return [v for v in document["vectors"] if v["algo"] == "spot"]


def test_sign_when_given_each_spot_vector_then_matches_expected_api_sign(kraken_data):
    vectors = _spot_vectors(kraken_data)
    assert len(vectors) == 3, "the vector file changed; review the cases"
    for vector in vectors:
        got = sign(vector["uri_path"], vector["postdata"], vector["nonce"], vector["private_key_b64"])
        assert got == vector["expected_api_sign"], vector["name"]


def test_sign_when_nonce_is_int_then_equals_string_nonce(kraken_data):
    vector = _spot_vectors(kraken_data)[0]
    assert (
        sign(vector["uri_path"], vector["postdata"], int(vector["nonce"]), vector["private_key_b64"])
        == vector["expected_api_sign"]
    )


def test_sign_when_any_input_changes_then_signature_changes(kraken_data):
    vector = _spot_vectors(kraken_data)[0]
    args = (vector["uri_path"], vector["postdata"], vector["nonce"], vector["private_key_b64"])
    base = sign(*args)
    assert sign("/0/private/CancelOrder", *args[1:]) != base
    assert sign(args[0], args[1] + "&x=1", *args[2:]) != base
    assert sign(args[0], args[1], "1616492376595", args[3]) != base


def test_sign_when_computed_independently_per_docs_formula_then_agrees():
    secret = base64.b64encode(b"an independent secret for this test").decode()
    path, nonce, body = "/0/private/Balance", "42", "nonce=42"
    message = path.encode() + hashlib.sha256((nonce + body).encode()).digest()
    expected = base64.b64encode(hmac.new(base64.b64decode(secret), message, hashlib.sha512).digest()).decode()
    assert sign(path, body, nonce, secret) == expected


def test_decode_secret_when_not_base64_then_error_does_not_contain_secret():
    bogus = "not*base64*secret!!"
    with pytest.raises(ValueError) as info:
        decode_secret(bogus)
    assert bogus not in str(info.value)
    assert bogus not in repr(info.value)
