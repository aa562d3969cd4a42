from kraken_runtime.core.feed_policy import Backoff, ConnectionBudget, IdleWatchdog, reconnect_delay_s


def test_budget_allows_limit_attempts_per_rolling_window_then_waits_for_oldest():
    budget = ConnectionBudget(limit=3, window_s=600)
    assert [budget.try_acquire(t) for t in (0, 1, 2, 3)] == [True, True, True, False]
    assert budget.wait_s(3) == 597
    assert not budget.try_acquire(599.9)
    assert budget.try_acquire(600) and budget.used(600) == 3


def test_reconnect_delay_grows_capped_and_is_zero_before_any_failure():
    backoff = Backoff(initial_s=0.5, max_s=30, jitter_ratio=0)
    assert [reconnect_delay_s(backoff, n, 0.5) for n in (0, 1, 2, 3, 10)] == [0.0, 0.5, 1.0, 2.0, 30]
    jittered = Backoff(initial_s=1, max_s=30, jitter_ratio=0.3)
    assert 0.7 <= reconnect_delay_s(jittered, 1, 0.0) <= reconnect_delay_s(jittered, 1, 0.99) <= 1.3


def test_idle_watchdog_counts_any_frame_as_life():
    dog = IdleWatchdog(timeout_s=10, last_frame_s=0)
    assert not dog.stalled(10)
    assert dog.stalled(10.5)
    dog.frame(10.5)
    assert not dog.stalled(20)
