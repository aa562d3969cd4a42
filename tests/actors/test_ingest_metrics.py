"""krt_ingest_latency_seconds is fed a batch at a time (BatchedHistogram); what a scrape shows must be what
prometheus_client's own Histogram shows for the same observations."""

from __future__ import annotations

import random

import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from kraken_runtime.actors.ingest_metrics import INGEST_LATENCY_BUCKETS, BatchedHistogram


def samples(registry: CollectorRegistry) -> dict[str, float]:
    out = {}
    for family in registry.collect():
        for sample in family.samples:
            if not sample.name.endswith("_created"):
                out[sample.name + str(sorted(sample.labels.items()))] = sample.value
    return out


def test_batched_histogram_scrapes_like_prometheus_client_histogram_for_the_same_values():
    rng = random.Random(7)
    bounds_ns = [round(b * 1e9) for b in INGEST_LATENCY_BUCKETS]
    values = [b + d for b in bounds_ns for d in (-1, 0, 1)] + [rng.randrange(0, 10**10) for _ in range(2000)] + [0]
    reference, batched = CollectorRegistry(), CollectorRegistry()
    histogram = Histogram("krt_ingest_latency_seconds", "Frame received -> state applied.", buckets=INGEST_LATENCY_BUCKETS,
                          registry=reference)
    for value in values:
        histogram.observe(value / 1e9)
    ours = BatchedHistogram("krt_ingest_latency_seconds", "Frame received -> state applied.", buckets_s=INGEST_LATENCY_BUCKETS,
                            registry=batched)
    ours.writer("BTC/USD").observe_many_ns(values[:1000])
    ours.writer("ETH/USD").observe_many_ns(values[1000:])
    expected, got = samples(reference), samples(batched)
    assert expected.keys() == got.keys()
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=1e-12), key
    text = generate_latest(batched).decode()
    assert '# TYPE krt_ingest_latency_seconds histogram' in text and 'krt_ingest_latency_seconds_bucket{le="+Inf"} 2049.0' in text


def test_writer_for_the_same_key_continues_its_counts():
    ours = BatchedHistogram("h_seconds", "h", buckets_s=(0.001, 0.01), registry=CollectorRegistry())
    first = ours.writer("BTC/USD")
    first.observe_many_ns([500_000])
    assert ours.writer("BTC/USD") is first  # a restarted state holder keeps adding to the same counts
    first.observe_many_ns([20_000_000])
    assert first.counts == [1, 0, 1] and first.sum_ns == 20_500_000


def test_buckets_out_of_order_are_refused():
    with pytest.raises(ValueError, match="strictly increasing"):
        BatchedHistogram("h_seconds", "h", buckets_s=(0.01, 0.001), registry=CollectorRegistry())
