"""The scriptable market (core/sim/script.py): parsing, phases in time, and each phase's effect on a seeded
exchange's flow (deterministic: time is stepped, never waited for)."""

from __future__ import annotations

import math
import random

import pytest

from kraken_runtime.core.sim.api import SimModelConfig
from kraken_runtime.core.sim.exchange import SimExchange
from kraken_runtime.core.sim.script import MarketScript, Phase, ScriptError, parse_script

T0 = 1_700_000_000 * 1_000_000_000
SEC = 1_000_000_000


def exchange(seed: int = 5) -> SimExchange:
    return SimExchange(symbols=("BTC/USD",), seed=seed, now_ns=T0, config=SimModelConfig(warmup_s=2.0, regimes_enabled=False))


def mid(x: SimExchange) -> float:
    bids, asks = x.book("BTC/USD", 1)
    return float((bids[0][0] + asks[0][0]) / 2)


def spread(x: SimExchange) -> float:
    bids, asks = x.book("BTC/USD", 1)
    return float(asks[0][0] - bids[0][0])


@pytest.mark.parametrize(("spec", "message"), [
    ([], "a script is an object"),
    ({"symbol": "BTC/USD"}, "phases: expected a list of 1 to 100 phases"),
    ({"symbol": "BTC/USD", "phases": [{"phase": "sideways", "seconds": 1}]}, "phases[1].phase: 'sideways'; expected one of trending"),
    ({"symbol": "BTC/USD", "phases": [{"phase": "frozen", "seconds": 0}]}, "phases[1].seconds: 0; expected more than 0"),
    ({"symbol": "BTC/USD", "phases": [{"phase": "trending", "seconds": 1, "spread_factor": 3}]},
     "phases[1].spread_factor: not a parameter of trending; expected: drift_bps_per_s"),
    ({"symbol": "BTC/USD", "phases": [{"phase": "illiquid", "seconds": 1, "spread_factor": 0.5}]}, "expected at least 1"),
    ({"symbol": "BTC/USD", "phases": [{"phase": "volatile", "seconds": "x"}]}, "phases[1].seconds: 'x' is not a number"),
    ({"symbol": "BTC/USD", "phases": [], "speed": 2}, "unknown key(s) ['speed']"),
])
def test_bad_scripts_are_one_line_naming_the_field(spec, message):
    with pytest.raises(ScriptError, match=None) as info:
        parse_script(spec, start_ns=T0)
    assert message in str(info.value)


def test_phases_follow_each_other_in_time():
    symbol, script = parse_script({"symbol": "BTC/USD", "phases": [{"phase": "trending", "seconds": 2, "drift_bps_per_s": -4},
                                                                   {"phase": "frozen", "seconds": 1}]}, start_ns=T0)
    assert symbol == "BTC/USD" and script.phases[0].param("drift_bps_per_s") == -4
    assert script.phases[1].param("drift_bps_per_s") == 0
    assert [script.phase_at(T0 + int(s * SEC)) and script.phase_at(T0 + int(s * SEC)).name for s in (-1, 0, 1.99, 2, 2.99, 3)] == \
        [None, "trending", "trending", "frozen", "frozen", None]
    assert script.finished(T0 + 3 * SEC) and not script.finished(T0 + 3 * SEC - 1)


class FakeFlow:
    def __init__(self) -> None:
        self.fair = 1000.0
        self.sigma = 1e-4
        self.min_fair = 20.0
        self.rng = random.Random(1)
        self.blowouts: list[tuple[float, float]] = []

    def request_spread_blowout(self, factor: float, seconds: float) -> None:
        self.blowouts.append((factor, seconds))


def test_phase_effects_on_the_fair_price():
    flow = FakeFlow()
    script = MarketScript(phases=(Phase(name="trending", seconds=10, params=(("drift_bps_per_s", 10.0),)),
                                  Phase(name="mean_reverting", seconds=10), Phase(name="illiquid", seconds=4),
                                  Phase(name="frozen", seconds=1)), start_ns=T0)
    assert script.apply(flow, T0, 0.0) == "follow"
    assert script.apply(flow, T0 + SEC, 1.0) == "follow" and flow.fair == pytest.approx(1000 * math.exp(0.001), rel=1e-12)
    anchor = flow.fair
    script.apply(flow, T0 + 10 * SEC, 0.0)  # enter mean_reverting at `anchor`
    flow.fair = anchor * 1.01
    script.apply(flow, T0 + 12 * SEC, 2.0)  # one half-life
    assert flow.fair == pytest.approx(anchor * 1.005, rel=1e-6)
    assert script.apply(flow, T0 + 21 * SEC, 0.0) == "thin"  # illiquid: one blowout for the phase's remaining 3 s
    assert script.apply(flow, T0 + 22 * SEC, 1.0) == "thin"
    assert flow.blowouts == [(20.0, 3.0)]
    assert script.apply(flow, T0 + 24 * SEC, 1.0) == "frozen"
    assert script.apply(flow, T0 + 25 * SEC, 1.0) == ""  # over


def test_trending_phase_moves_the_book_and_mean_reverting_holds_it():
    x = exchange()
    start = mid(x)
    x.set_market_script({"symbol": "BTC/USD", "phases": [{"phase": "trending", "seconds": 20, "drift_bps_per_s": 20}]})
    x.step(x.now_ns + 20 * SEC)
    assert mid(x) / start - 1 > 0.02  # 400 bps of drift, give or take the noise and the book's lag
    x.set_market_script({"symbol": "BTC/USD", "phases": [{"phase": "mean_reverting", "seconds": 30, "half_life_s": 1}]})
    level = mid(x)
    x.step(x.now_ns + 30 * SEC)
    assert abs(mid(x) / level - 1) < 0.005
    assert x.market_scripts() == {}  # finished


def test_frozen_phase_produces_no_events_and_illiquid_widens_the_spread():
    x = exchange()
    x.set_market_script({"symbol": "BTC/USD", "phases": [{"phase": "frozen", "seconds": 5}]})
    assert x.market_scripts()["BTC/USD"]["current"] == "frozen"
    assert x.step(x.now_ns + 5 * SEC) == []
    assert x.step(x.now_ns + SEC) != []  # unscripted again
    usual = spread(x)
    x.set_market_script({"symbol": "BTC/USD", "phases": [{"phase": "illiquid", "seconds": 10, "spread_factor": 30}]})
    for _ in range(10):  # it stays wide, event after event
        x.step(x.now_ns + SEC // 2)
        assert spread(x) > 5 * usual
    assert x.clear_market_scripts() == ["BTC/USD"] and x.market_scripts() == {}


def test_unknown_symbol_is_refused():
    with pytest.raises(KeyError):
        exchange().set_market_script({"symbol": "DOGE/USD", "phases": [{"phase": "frozen", "seconds": 1}]})


def test_a_scripted_run_is_deterministic():
    def run() -> float:
        x = exchange(seed=9)
        x.set_market_script({"symbol": "BTC/USD", "phases": [{"phase": "volatile", "seconds": 10}]})
        x.step(x.now_ns + 10 * SEC)
        return mid(x)

    assert run() == run()
