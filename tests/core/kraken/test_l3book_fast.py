"""core.kraken.l3book's fast paths: the orjson decoder without error bookkeeping equals the checked one, and
the cached checksum (per level text, per side top-10 text) equals Kraken's on long generated streams whose
checksums come from an independent implementation (ops/bench/synthetic.py)."""

from __future__ import annotations

import importlib.util
import json
import re
import zlib
from pathlib import Path

import pytest

from kraken_runtime.core.kraken.l3book import L3Book, decode_canonical_level3_frame, decode_level3, decode_level3_frame
from kraken_runtime.core.kraken.wire import DecodeError, loads

REPO_ROOT = Path(__file__).resolve().parents[3]


def _synthetic():
    spec = importlib.util.spec_from_file_location("bench_synthetic", REPO_ROOT / "ops" / "bench" / "synthetic.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("depth", [10, 100, 1000])
def test_l3book_when_replaying_a_long_generated_stream_then_every_checksum_matches(depth):
    lines = _synthetic().level3_capture(1500, depth, seed=depth)
    fast = L3Book("BTC/USD", depth, 1, 8)
    wire = L3Book("BTC/USD", depth)
    for line in lines:
        decoded = decode_level3_frame(line, 1, 8)
        assert decoded == decode_level3(loads(line))
        assert fast.apply_message(decoded).ok
        assert wire.apply_message(decode_level3(loads(line))).ok
        assert fast.checksum() == zlib.crc32(fast.checksum_input().encode())
    assert fast.order_count() == wire.order_count() > depth


def test_l3book_when_precision_changes_mid_stream_then_cached_texts_are_rebuilt():
    lines = _synthetic().level3_capture(200, 100, seed=3)
    book = L3Book("BTC/USD", 100)
    for index, line in enumerate(lines):
        if index == 100:
            book.set_precision(1, 8)
        assert book.apply_message(decode_level3_frame(line, 1, 8)).ok


UPDATE = {"channel": "level3", "type": "update", "data": [{"checksum": 1, "symbol": "BTC/USD", "bids": [
    {"event": "add", "order_id": "OA", "limit_price": 100.1, "order_qty": 0.5, "timestamp": "t"}], "asks": []}]}


@pytest.mark.parametrize("change, reason", [
    (lambda o: o.pop("order_id"), "'order_id' missing in bids[0]"),
    (lambda o: o.update(order_id=""), "'order_id' is not a string in bids[0]"),
    (lambda o: o.update(limit_price=0.0), "'limit_price' is not a positive number in bids[0]"),
    (lambda o: o.update(order_qty=-1.0), "'order_qty' is not a non-negative number in bids[0]"),
    (lambda o: o.update(event="move"), "'event' is 'move', not add/modify/delete, in bids[0]"),
    (lambda o: o.update(timestamp=5), "'timestamp' is not a string in bids[0]"),
])
def test_decode_level3_frame_when_an_order_is_wrong_then_the_checked_decoder_names_it(change, reason):
    frame = json.loads(json.dumps(UPDATE))
    change(frame["data"][0]["bids"][0])
    with pytest.raises(DecodeError, match=re.escape(f"level3 update: {reason}")):
        decode_level3_frame(json.dumps(frame), 1, 8)


def test_decode_level3_frame_when_fast_path_applies_then_it_equals_the_exact_decoder():
    frame = json.dumps(UPDATE)
    assert decode_level3_frame(frame, 1, 8) == decode_level3(loads(frame))
    # a qty with more decimals than the precision cannot be proven exact: the exact path decides
    inexact = frame.replace("0.5", "0.123456789")
    assert decode_level3_frame(inexact, 1, 8).data[0].bids[0].order_qty == loads("0.123456789")


# ------------------------------------------------------------------------------ Kraken's layout, from its text


def test_decode_canonical_level3_frame_equals_the_exact_decoder_on_every_frame(kraken_data):
    docs = kraken_data / "captures" / "ws_v2_level3_BTCUSD_docs_snapshot_3_updates.jsonl"
    lines = [line for line in docs.read_text().splitlines() if line.strip()]
    lines += _synthetic().level3_capture(300, 100, seed=11)
    for line in lines:
        decoded = decode_canonical_level3_frame(line)
        assert decoded is not None and decoded == decode_level3(loads(line))
        assert decode_level3_frame(line) == decoded


_CANONICAL_UPDATE = ('{"channel":"level3","type":"update","data":[{"checksum":1,"symbol":"BTC/USD","timestamp":"t",'
                     '"bids":[{"event":"add","order_id":"OA","limit_price":100.1,"order_qty":0.5,"timestamp":"t"}],'
                     '"asks":[]}]}')


@pytest.mark.parametrize("frame", [
    _CANONICAL_UPDATE.replace('"bids":', '"bids": '),  # whitespace
    _CANONICAL_UPDATE.replace('"event":"add",', ""),  # an update order without its event
    _CANONICAL_UPDATE.replace('"type":"update"', '"type":"snapshot"'),  # a snapshot laid out as an update
    _CANONICAL_UPDATE.replace("100.1", "0.0"),  # a zero price
    _CANONICAL_UPDATE.replace('"checksum":1', '"checksum":4294967296'),  # beyond 32 bits
    _CANONICAL_UPDATE.replace('"event":"add"', '"event":"move"'),
    _CANONICAL_UPDATE.replace('"order_id":"OA"', '"order_id":""'),
])
def test_decode_canonical_level3_frame_when_not_kraken_layout_then_none_and_the_general_path_decides(frame):
    assert decode_canonical_level3_frame(frame) is None
    try:
        general = decode_level3_frame(frame)
    except DecodeError:
        return  # named by the checked decoder
    assert general == decode_level3(loads(frame))
