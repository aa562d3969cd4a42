"""Fixtures for tests/core/kraken (shared by the "books" and "codecs" test modules; append, don't overwrite)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


# ---- books: captures and checksum vectors --------------------------------------------------------------

# Pair precisions (price/qty) of the symbols in tests/data/kraken/captures, from Kraken's instrument channel.
CAPTURE_PRECISIONS = {"BTC/USD": (1, 8), "ETH/USD": (2, 8), "XRP/USD": (5, 8)}


@pytest.fixture(scope="session")
def captures_dir(kraken_data: Path) -> Path:
    return kraken_data / "captures"


@pytest.fixture(scope="session")
def checksum_vectors(kraken_data: Path) -> dict:
    return json.loads((kraken_data / "vectors" / "book_checksum_vectors.json").read_text())


@pytest.fixture(scope="session")
def capture_precisions() -> dict[str, tuple[int, int]]:
    return dict(CAPTURE_PRECISIONS)


@pytest.fixture(scope="session")
def capture_frames(captures_dir: Path):
    """A function: capture file name -> list of raw frame texts (JSON lines, or init + updates re-dumped)."""

    def frames(name: str) -> list[str]:
        path = captures_dir / name
        if path.suffix == ".json":
            document = json.loads(path.read_text())
            return [json.dumps(document["init"])] + [json.dumps(update) for update in document["updates"]]
        return [line for line in path.read_text().splitlines() if line.strip()]

    return frames
