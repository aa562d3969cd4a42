"""kraken_runtime/preflight.py: the checks `run` and `config check` make before any side effect."""

from __future__ import annotations

import socket
from pathlib import Path

from kraken_runtime import exitcodes
from kraken_runtime.core.config import Secrets, load_settings
from kraken_runtime.preflight import check_run, is_loopback, port_problem, sqlite_folder_problem


def test_loopback_addresses_are_told_from_exposed_ones() -> None:
    """Finding: `--http 0.0.0.0` was accepted without a word; the daemon now warns for any non-loopback bind."""
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost") and is_loopback("127.3.2.1")
    assert not is_loopback("0.0.0.0") and not is_loopback("::") and not is_loopback("192.168.1.10")


def test_a_sqlite_file_in_a_missing_absolute_folder_is_refused_and_nothing_is_created(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "deeper"
    problem = sqlite_folder_problem(f"sqlite:///{missing}/x.db")
    assert problem == f"folder {missing} does not exist; expected an existing folder (create it first)"
    assert not missing.exists() and not (tmp_path / "nope").exists()
    assert sqlite_folder_problem(f"sqlite:///{tmp_path}/x.db") is None
    assert sqlite_folder_problem("sqlite:///state/x.db") is None  # relative: created under the working folder
    assert sqlite_folder_problem("postgresql://u@127.0.0.1/test") is None


def test_a_taken_port_is_named_and_port_zero_is_always_free() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert port_problem("127.0.0.1", port) == "address already in use; expected a free port (or 0 to pick one)"
    assert port_problem("127.0.0.1", 0) is None


def test_every_problem_is_one_line_with_its_exit_code(tmp_path: Path) -> None:
    settings = load_settings(env={"KRT_RUNTIME__SYMBOLS": "FOO/BAR,BTC/USD", "KRT_RUNTIME__MODE": "live",
                                  "KRT_STORAGE__DB_URL": f"sqlite:///{tmp_path}/missing/x.db", "KRT_HTTP__PORT": "0"})
    problems = check_run(settings, Secrets())
    lines = [p.line for p in problems]
    assert any("FOO/BAR" in line and "the local exchange does not list" in line for line in lines)
    assert any("KRAKEN_API_KEY" in line for line in lines)
    assert any("storage.db_url: folder" in line for line in lines)
    assert all("\n" not in line and line.startswith("config error: ") for line in lines)
    assert {p.exit_code for p in problems} == {exitcodes.CONFIG}


def test_enabled_pairs_outside_the_configured_symbols_are_refused_with_one_line() -> None:
    """KRAKEN_ENABLED_PAIRS=ZZZ matched none of the symbols and `config check` said ok: nothing would ever trade."""
    settings = load_settings(env={"KRAKEN_ENABLED_PAIRS": "ZZZ,XRP", "KRT_HTTP__PORT": "0", "KRT_SIM__PORT": "0"})
    problems = check_run(settings, Secrets(), check_ports=False)
    assert [(p.line, p.exit_code) for p in problems] == [(
        "config error: executor.enabled_pairs (KRAKEN_ENABLED_PAIRS) names ZZZ/USD, not among runtime.symbols; "
        "expected some of BTC/USD, ETH/USD, XRP/USD", exitcodes.CONFIG)]
    inside = load_settings(env={"KRAKEN_ENABLED_PAIRS": "xrp,BTC/USD"})
    assert check_run(inside, Secrets(), check_ports=False) == []
