"""core.kraken.checksum against Kraken's documented vectors (tests/data/kraken/vectors)."""

from __future__ import annotations

import json

import pytest

from kraken_runtime.core.kraken.checksum import (
    checksum_input_l2,
    checksum_input_l3,
    crc32_fragments,
    crc32_l2,
    crc32_l3,
    level_fragment,
    normalize,
)
from kraken_runtime.core.kraken.wire import format_decimal, loads


def _vector(vectors: dict, name: str) -> dict:
    return next(v for v in vectors["vectors"] if v["name"] == name)


def test_normalize_when_given_the_documented_examples_then_matches_them(checksum_vectors):
    for text, expected in checksum_vectors["format_examples"]:
        assert normalize(text) == expected


@pytest.mark.parametrize("name", ["kraken_docs_ws_v2_book_snapshot", "kraken_docs_ws_v1_book"])
def test_crc32_l2_when_given_a_documented_book_then_matches_input_string_and_checksum(checksum_vectors, name):
    vector = _vector(checksum_vectors, name)
    bids = [tuple(level) for level in vector["bids"]]
    asks = [tuple(level) for level in vector["asks"]]
    assert checksum_input_l2(bids, asks) == vector["checksum_input"]
    assert crc32_l2(bids, asks) == vector["expected"]


def test_crc32_l2_when_sides_have_more_than_10_levels_then_only_top_10_count(checksum_vectors):
    vector = _vector(checksum_vectors, "kraken_docs_ws_v2_book_snapshot")
    bids = [tuple(level) for level in vector["bids"]] + [("45270.0", "9.00000000")]
    asks = [tuple(level) for level in vector["asks"]] + [("45300.0", "9.00000000")]
    assert crc32_l2(iter(bids), iter(asks)) == 3310070434


def test_crc32_l2_when_top_ask_removed_then_matches_protocol_derived_value(checksum_vectors):
    vector = _vector(checksum_vectors, "kraken_docs_ws_v2_book_snapshot")
    bids = [tuple(level) for level in vector["bids"]]
    asks = [tuple(level) for level in vector["asks"]][1:]
    assert crc32_l2(bids, asks) == 1182027464


def test_crc32_l2_when_docs_matic_book_formatted_at_pair_precision_then_matches_docs():
    snapshot = loads(
        '{"bids": [[0.5666, 4831.75496356], [0.5665, 6658.22734739], [0.5664, 18724.91513344],'
        " [0.5663, 11563.92544914], [0.5662, 14006.65365711], [0.5661, 17454.85679807], [0.566, 18097.1547],"
        " [0.5659, 33644.89175666], [0.5658, 148.3464], [0.5657, 606.70854372]],"
        ' "asks": [[0.5668, 4410.79769741], [0.5669, 4655.40412487], [0.567, 49844.89424998],'
        " [0.5671, 24306.41678], [0.5672, 29783.25223475], [0.5673, 57234.71239278], [0.5674, 45065.04744],"
        " [0.5675, 5912.76380354], [0.5676, 42514.92434778], [0.5677, 36304.0847022]]}"
    )

    def texts(levels):
        return [(format_decimal(p, 4), format_decimal(q, 8)) for p, q in levels]

    assert crc32_l2(texts(snapshot["bids"]), texts(snapshot["asks"])) == 2439117997
    bids = snapshot["bids"][:9] + [[snapshot["bids"][9][0], loads("1098.3947558")]]
    assert crc32_l2(texts(bids), texts(snapshot["asks"])) == 2114181697
    # Unformatted, the same book hashes differently: precision matters.
    raw = [(str(p), str(q)) for p, q in snapshot["bids"]]
    assert crc32_l2(raw, texts(snapshot["asks"])) != 2439117997


def test_crc32_l3_when_given_the_documented_level3_snapshot_then_matches_strings_and_checksum(
    checksum_vectors, captures_dir
):
    vector = _vector(checksum_vectors, "kraken_docs_ws_v2_level3_snapshot")
    first = (captures_dir / "ws_v2_level3_BTCUSD_docs_snapshot_3_updates.jsonl").read_text().splitlines()[0]
    data = loads(first)["data"][0]

    def orders(side):
        return [(format(o["limit_price"], "f"), format(o["order_qty"], "f")) for o in data[side]]

    text = checksum_input_l3(orders("bids"), orders("asks"))
    assert text == vector["expected_asks_string"] + vector["expected_bids_string"]
    assert crc32_l3(orders("bids"), orders("asks")) == vector["expected"] == 1063832831


def test_crc32_l3_when_more_than_10_price_levels_then_later_levels_are_ignored():
    asks = [(f"{100 + i}.0", "1.00000000") for i in range(10)]
    bids = [("99.0", "1.00000000"), ("99.0", "2.00000000")]
    base = crc32_l3(bids, asks)
    assert crc32_l3(bids, asks + [("200.0", "5.00000000")]) == base
    # ...but a second order inside a top-10 level counts, and so does its queue order.
    with_order = crc32_l3(bids, asks + [])
    assert crc32_l3(bids[::-1], asks) != with_order


def test_crc32_fragments_when_given_level_fragments_then_equals_crc32_l2(checksum_vectors):
    vector = _vector(checksum_vectors, "kraken_docs_ws_v2_book_snapshot")
    asks = [level_fragment(p, q) for p, q in vector["asks"]]
    bids = [level_fragment(p, q) for p, q in vector["bids"]]
    assert crc32_fragments(asks, bids) == 3310070434


def test_vectors_file_when_read_then_holds_the_three_positive_vectors(checksum_vectors):
    expected = {v["name"]: v.get("expected") for v in checksum_vectors["vectors"]}
    assert expected["kraken_docs_ws_v2_book_snapshot"] == 3310070434
    assert expected["kraken_docs_ws_v1_book"] == 974947235
    assert expected["kraken_docs_ws_v2_level3_snapshot"] == 1063832831
    assert json.dumps(checksum_vectors)  # plain JSON
