"""LatestPerInterval (core/coalesce.py): at most one value per interval, always the newest."""

from __future__ import annotations

import pytest

from kraken_runtime.core.coalesce import LatestPerInterval

MS = 1_000_000


def test_at_most_one_per_interval_and_it_is_the_newest() -> None:
    rows: LatestPerInterval[int] = LatestPerInterval(1000 * MS)
    out = []
    for n in range(50):  # 50 tickers, 100 ms apart: 5 s
        rows.offer(n)
        value = rows.take(n * 100 * MS)
        if value is not None:
            out.append(value)
    assert out == [0, 10, 20, 30, 40]  # the first at once, then the newest each second
    assert rows.drain() == 49  # held at shutdown: written, not lost
    assert rows.drain() is None
    assert rows.offered == 50 and rows.taken == 6


def test_nothing_offered_nothing_taken_and_zero_interval_passes_everything() -> None:
    rows: LatestPerInterval[str] = LatestPerInterval(0)
    assert rows.take(0) is None
    rows.offer("a")
    assert rows.take(0) == "a"
    rows.offer("b")
    assert rows.take(0) == "b"


def test_negative_interval_refused() -> None:
    with pytest.raises(ValueError):
        LatestPerInterval(-1)
