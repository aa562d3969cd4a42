"""Every check `run` makes before it writes or starts anything, in one place: `run` calls it first, and
`config check` runs the same checks (with the environment's secrets), so a configuration `config check`
passes is one `run` accepts.

Each problem is one line naming the setting, what was wrong and what was expected, with its exit code:
78 for a configuration problem, 1 for the environment (a port already taken).
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from dataclasses import dataclass
from pathlib import Path

from kraken_runtime import exitcodes
from kraken_runtime.core.config import Secrets, Settings
from kraken_runtime.core.sim.instruments import INSTRUMENTS


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    line: str
    exit_code: int


def check_run(settings: Settings, secrets: Secrets, *, check_ports: bool = True) -> list[Problem]:
    """Every problem `run` would hit with these settings and secrets, before any side effect."""
    problems: list[Problem] = []
    runtime = settings.runtime
    if not runtime.symbols:
        problems.append(Problem(line="config error: runtime.symbols is empty; expected at least one symbol such as BTC/USD",
                                exit_code=exitcodes.CONFIG))
    if runtime.market == "sim":
        unknown = [symbol for symbol in runtime.symbols if symbol not in INSTRUMENTS]
        if unknown:
            problems.append(Problem(
                line=(f"config error: runtime.symbols: the local exchange does not list {', '.join(unknown)}; "
                      f"it lists {', '.join(sorted(INSTRUMENTS))}"),
                exit_code=exitcodes.CONFIG))
    outside = [pair for pair in settings.executor.enabled_pairs if pair not in runtime.symbols]
    if outside:
        problems.append(Problem(
            line=(f"config error: executor.enabled_pairs (KRAKEN_ENABLED_PAIRS) names {', '.join(outside)}, not among "
                  f"runtime.symbols; expected some of {', '.join(runtime.symbols)}"),
            exit_code=exitcodes.CONFIG))
    if runtime.mode == "shadow" and not secrets.present and runtime.market == "kraken":
        problems.append(Problem(  # shadow on the local exchange uses its demo key
            line="config error: runtime.mode = 'shadow' needs KRAKEN_API_KEY and KRAKEN_API_SECRET; expected both set",
            exit_code=exitcodes.CONFIG))
    if runtime.mode == "live" and not secrets.present:
        problems.append(Problem(
            line="config error: runtime.mode = 'live' needs KRAKEN_API_KEY and KRAKEN_API_SECRET; expected both set",
            exit_code=exitcodes.CONFIG))
    db_problem = sqlite_folder_problem(settings.storage.db_url)
    if db_problem:
        problems.append(Problem(line=f"config error: storage.db_url: {db_problem}", exit_code=exitcodes.CONFIG))
    if check_ports:
        ports = [("http", settings.http.host, settings.http.port)]
        if runtime.market == "sim":
            ports.append(("sim", settings.sim.host, settings.sim.port))
        for section, host, port in ports:
            problem = port_problem(host, port)
            if problem:
                problems.append(Problem(line=f"error: {section}.host/{section}.port {host}:{port}: {problem}",
                                        exit_code=exitcodes.FAILED))
    return problems


def sqlite_folder_problem(url: str) -> str | None:
    """A SQLite file's folder must exist when its path is absolute (the daemon never creates folders outside
    its working directory, e.g. at the filesystem root); a relative path's folder (the default `state/`) is
    created under the working directory."""
    if not url.startswith("sqlite:///"):
        return None
    path = url[len("sqlite:///"):]
    if not path or path == ":memory:":
        return None
    file = Path(path).expanduser()
    if not file.is_absolute():
        return None
    if not file.parent.is_dir():
        return f"folder {file.parent} does not exist; expected an existing folder (create it first)"
    return None


def port_problem(host: str, port: int) -> str | None:
    """None when host:port can be listened on now (port 0 always can); else why not."""
    if port == 0:
        return None
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        return f"cannot resolve {host!r} ({exc.strerror}); expected an address of this machine"
    family, _type, _proto, _name, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return "address already in use; expected a free port (or 0 to pick one)"
            return f"cannot listen there ({exc.strerror or exc})"
    return None


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses; a name that does not resolve to loopback is not."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        try:
            return all(ipaddress.ip_address(info[4][0]).is_loopback for info in socket.getaddrinfo(host, None))
        except (OSError, ValueError):
            return False
