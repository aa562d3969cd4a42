from decimal import Decimal
from pathlib import Path

import pytest

from kraken_runtime.core.sim.exchange import SimExchange, SimModelConfig

T0 = 1_700_000_000 * 1_000_000_000
SEC = 1_000_000_000


@pytest.fixture
def kraken_data_dir() -> Path:
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "core").is_dir() and (parent / "tests").is_dir():
            return parent.parent / "shared" / "kraken"
    raise RuntimeError("repo root not found")


@pytest.fixture
def make_exchange():
    def make(symbols=("BTC/USD", "ETH/USD"), seed=11, **config):
        config.setdefault("warmup_s", 2.0)
        return SimExchange(symbols=symbols, seed=seed, now_ns=T0, config=SimModelConfig(**config))

    return make


@pytest.fixture
def exchange(make_exchange):
    """BTC/USD and ETH/USD with a funded account 'alice'; the flow is frozen (rate tiny) so the book
    only changes through the test's own orders unless the test steps time."""
    x = make_exchange(rate_scale=0.0001)
    x.create_account("alice", {"USD": Decimal("1000000"), "BTC": Decimal("10"), "ETH": Decimal("100")})
    return x
