from decimal import Decimal

import pytest

from kraken_runtime.core.sim.api import SimModelConfig
from kraken_runtime.core.sim.exchange import SimExchange

T0 = 1_700_000_000 * 1_000_000_000
SEC = 1_000_000_000


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
