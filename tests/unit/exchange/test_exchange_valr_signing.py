"""VALR request signing: the official vectors and an independently computed one."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from tradeguard.exchange.valr import sign_request

T1_SECRET = "4961b74efac86b25cce8fbe4c9811c4c7a787b7a5996660afcc2e287ad864363"
T5_SECRET = "0e06e223696b1d9bc6d8df1f701a87326c16763d8f2ebaaacb1042b61d7c3035"

OFFICIAL_VECTORS = [
    pytest.param(
        T1_SECRET,
        1558014486185,
        "GET",
        "/v1/account/balances",
        "",
        "",
        "9d52c181ed69460b49307b7891f04658e938b21181173844b5018b2fe783a6d4"
        "c62b8e67a03de4d099e7437ebfabe12c56233b73c6a0cc0f7ae87e05f6289928",
        id="T1-official-get-balances",
    ),
    pytest.param(
        T1_SECRET,
        1558017528946,
        "POST",
        "/v1/orders/market",
        '{"customerOrderId":"ORDER-000001","pair":"BTCUSDC","side":"BUY","quoteAmount":"80000"}',
        "",
        "09f536e3dfdad58443f16010a97a0a21ad27486b7b8d6d4103170d885410ed77"
        "f037f1fa628474190d4f5c08ca12c1acc850901f1c2e75c6d906ec3b32b008d0",
        id="T2-official-post-market-order",
    ),
    pytest.param(
        T1_SECRET,
        1558017528946,
        "POST",
        "/v1/orders/market",
        '{"customerOrderId":"ORDER-000001","pair":"BTCZAR","side":"BUY","quoteAmount":"80000"}',
        "",
        "be97d4cd9077a9eea7c4e199ddcfd87408cb638f2ec2f7f74dd44aef70a49fdc"
        "49960fd5de9b8b2845dc4a38b4fc7e56ef08f042a3c78a3af9aed23ca80822e8",
        id="T2-old-official-btczar",
    ),
    pytest.param(
        "superdupersecret",
        1577572690093,
        "GET",
        "/v1/account/balances",
        "",
        "909461317243875555",
        "3dc9ed14dbb13f9c529bd75241686523ca1e77fcbe0184ca35fe8d5329692e5e"
        "26a3b3d7ff339dce6e829d3b1c93ef9e187cf696c07ef12517198950ea68af0f",
        id="T3-subaccount",
    ),
    pytest.param(
        "superdupersecret",
        1577572690093,
        "GET",
        "/v1/account/balances",
        "",
        "",
        "647d276537b952fe37f349422a4a60a76ecc2e3fad509a523b03dccd1a940525"
        "f8ff06314ad1adc5625000223c514637cd9682ee89ffc285b7493e7c64e746aa",
        id="T4-no-subaccount",
    ),
    pytest.param(
        T5_SECRET,
        1552244930586,
        "POST",
        "/api/v1/withdraw",
        '{"currency":"eth","amount":"2.24353"}',
        "",
        "0b89e7b4c8236255a7d1bf415dcb745b14ba2cf679ae38f42b3207c5c0a1c6a8"
        "48f6ea5466cccb1e38f54689d86ab4ea73f9cd0d600b90c91ef619828eb7e2fb",
        id="T5-post-withdraw",
    ),
    pytest.param(
        T5_SECRET,
        1552244930586,
        "GET",
        "/api/v1/withdraw",
        "",
        "",
        "475048965cef521871f5c4a3d9d692c3e3279e27c7b9cdaca07c1f1bd2fb27d4"
        "fdb88ea86ef23290b585f03ce2e9af08b31387ca3c7dcdf7832dce7bcea7fdfc",
        id="T6-get-withdraw",
    ),
    pytest.param(
        T1_SECRET,
        1558014486185,
        "GET",
        "/v1/account/balances?excludeZeroBalances=true",
        "",
        "",
        "b252adbf9ebb62f1a9043d15bee8a0f66fc77f139ca5a406c08a7ae56b626a17"
        "531aafbbd4899db44286f81784b366a42807b3875433702bb8a5b51df58720f5",
        id="reference-query-string",
    ),
    pytest.param(
        T1_SECRET,
        1558014486185,
        "DELETE",
        "/v1/orders/order",
        '{"orderId":"0198510c-09fa-7f86-8ddb-b6b222b4e509","pair":"BTCUSDT"}',
        "",
        "e78463524233af617aeb0a55bb8299b95f45c27de274c5fd1050b7185d9c5e86"
        "7409d2b640747857c4be48f4b6cf44d21192a36fba5bd32b4c4eec7c41b7bd7d",
        id="reference-delete-body",
    ),
]


@pytest.mark.parametrize(
    ("secret", "timestamp", "verb", "path", "body", "subaccount", "expected"), OFFICIAL_VECTORS
)
def test_sign_request_matches_published_vector(
    secret, timestamp, verb, path, body, subaccount, expected
):
    assert sign_request(secret, timestamp, verb, path, body, subaccount) == expected


def test_sign_request_matches_an_independent_computation_of_the_documented_algorithm():
    # Documented: HMAC-SHA512, key = the secret's UTF-8 bytes, message = timestamp + VERB +
    # path-with-query + body, lower-case hex digest.
    secret = "my-test-secret-\u00e9"
    timestamp = 1767225600123
    path = "/v2/orders/limit?dry=1"
    body = '{"side":"SELL","quantity":"0.5","price":"61000","pair":"BTCZAR"}'
    message = (str(timestamp) + "POST" + path + body).encode("utf-8")
    expected = hmac.new(secret.encode("utf-8"), message, hashlib.sha512).hexdigest()

    assert sign_request(secret, timestamp, "post", path, body) == expected
    assert len(expected) == 128 and expected == expected.lower()


def test_sign_request_upper_cases_the_verb():
    assert sign_request("s", 1, "get", "/p") == sign_request("s", 1, "GET", "/p")
