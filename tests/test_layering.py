"""The dependency direction of DESIGN.md and core/'s purity, checked by walking every import in the tree.

Everything of ours lives under one namespace, `kraken_runtime`; the owner's top-level folders core/, storage/
and actors/ install as kraken_runtime.core, .storage and .actors (setup.cfg package_dir). Layers:

    kraken_runtime.core        imports nothing of ours but itself
    kraken_runtime.storage     core
    kraken_runtime.actors      core, storage
    kraken_runtime.sim_server  core (the local exchange's network servers around core/sim's engine)
    kraken_runtime (the rest)  the composition root and command line: anything
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NAMESPACE = "kraken_runtime"
# Layer folder (relative to the repository) -> the layer's own name and what it may import of ours.
LAYERS: dict[str, tuple[str, set[str]]] = {
    "core": ("core", {"core"}),
    "storage": ("storage", {"storage", "core"}),
    "actors": ("actors", {"actors", "core", "storage"}),
    "kraken_runtime/sim_server": ("sim_server", {"sim_server", "core"}),
}
# Third-party runtime libraries that only actors/ and the entry point may use.
RUNTIME_ONLY = {"pykka", "prometheus_client"}
# Modules that do I/O or run threads: under core/ only the Kraken I/O adapters may import them.
IO_MODULES = {
    "threading", "socket", "select", "selectors", "ssl", "asyncio", "websockets", "websocket", "requests",
    "http.server", "http.client", "socketserver", "concurrent.futures", "multiprocessing", "subprocess",
    "urllib.request", "_thread",
}
SQL_MODULES = {"peewee", "playhouse", "sqlite3", "psycopg2", "psycopg"}


def is_core_io_adapter(relative: str) -> bool:
    """core/kraken/ws*.py and core/kraken/rest*.py are the only I/O adapters in core/."""
    folder, _, name = relative.rpartition("/")
    return folder == "core/kraken" and name.endswith(".py") and name.startswith(("ws", "rest"))


def imported_modules(path: Path) -> set[str]:
    """Every absolute module an import statement names, in full ("a.b.c"), at any depth of the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def our_layer(module: str) -> str | None:
    """The layer of ours a module belongs to ("core", "sim_server", "entry"), or None if it is not ours."""
    parts = module.split(".")
    if parts[0] != NAMESPACE:
        return None
    if len(parts) == 1:
        return "entry"
    return parts[1] if parts[1] in {"core", "storage", "actors", "sim_server"} else "entry"


def matches(module: str, names: set[str]) -> set[str]:
    return {name for name in names if module == name or module.startswith(name + ".")}


def sources(folder: str) -> list[Path]:
    return sorted(path for path in (REPO / folder).rglob("*.py"))


def relative(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


@pytest.mark.parametrize("folder", sorted(LAYERS))
def test_each_layer_imports_only_the_layers_below_it(folder):
    own, allowed = LAYERS[folder]
    offenders = []
    for path in sources(folder):
        for module in imported_modules(path):
            layer = our_layer(module)
            if layer is not None and layer not in allowed:
                offenders.append(f"{relative(path)} imports {module} (layer {layer!r}; {own} may import {sorted(allowed)})")
    assert not offenders, "\n".join(offenders)


def test_nothing_imports_the_folders_under_a_generic_top_level_name():
    offenders = []
    for folder in ("core", "storage", "actors", "kraken_runtime", "tests", "ops"):
        for path in sources(folder):
            if folder == "kraken_runtime" and path.relative_to(REPO / folder).parts[0] in {"core", "storage", "actors"}:
                continue  # the symlinks to the top-level folders: already walked as those folders
            for module in imported_modules(path):
                if module.split(".")[0] in {"core", "storage", "actors"}:
                    offenders.append(f"{relative(path)} imports {module}: use kraken_runtime.{module}")
    assert not offenders, "\n".join(offenders)


def test_core_imports_no_threads_sockets_or_event_loops_outside_the_kraken_io_adapters():
    offenders = []
    for path in sources("core"):
        rel = relative(path)
        if is_core_io_adapter(rel):
            continue
        for module in imported_modules(path):
            if matches(module, IO_MODULES):
                offenders.append(f"{rel} imports {module}")
    assert not offenders, "\n".join(offenders)


def test_core_and_storage_stay_free_of_the_actor_runtime_and_metrics():
    offenders = [
        f"{relative(path)} imports {module}"
        for folder in ("core", "storage")
        for path in sources(folder)
        for module in imported_modules(path)
        if matches(module, RUNTIME_ONLY)
    ]
    assert not offenders, "\n".join(offenders)


def test_storage_does_no_network_or_thread_io_of_its_own():
    offenders = [
        f"{relative(path)} imports {module}"
        for path in sources("storage")
        for module in imported_modules(path)
        if matches(module, IO_MODULES - {"threading"})  # peewee's per-thread connections need threading
    ]
    assert not offenders, "\n".join(offenders)


def test_nothing_imports_tests_or_ops():
    offenders = [
        f"{relative(path)} imports {module}"
        for folder in ("core", "storage", "actors", "kraken_runtime")
        for path in sources(folder)
        for module in imported_modules(path)
        if module.split(".")[0] in {"tests", "ops"}
    ]
    assert not offenders, "\n".join(offenders)


def test_sql_lives_only_in_storage():
    offenders = [
        f"{relative(path)} imports {module}"
        for folder in ("core", "actors", "kraken_runtime")
        for path in sources(folder)
        if not (folder == "kraken_runtime" and path.relative_to(REPO / folder).parts[0] in {"core", "storage", "actors"})
        for module in imported_modules(path)
        if matches(module, SQL_MODULES)
    ]
    assert not offenders, "\n".join(offenders)


@pytest.mark.parametrize(
    ("relative_path", "adapter"),
    [
        ("core/kraken/ws.py", True),
        ("core/kraken/wsframes.py", True),
        ("core/kraken/rest.py", True),
        ("core/kraken/rest_nonces.py", True),
        ("core/kraken/responses.py", False),
        ("core/kraken/signing.py", False),
        ("core/kraken/book.py", False),
        ("core/sim/exchange.py", False),
        ("core/ws.py", False),
        ("core/kraken/sub/rest.py", False),
    ],
)
def test_only_core_kraken_ws_and_rest_modules_count_as_io_adapters(relative_path, adapter):
    assert is_core_io_adapter(relative_path) is adapter


def test_the_purity_check_catches_a_thread_import_in_domain_code(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("import threading\nfrom concurrent.futures import ThreadPoolExecutor\n\ndef f():\n    import socket\n")
    found = imported_modules(sample)
    assert matches("threading", IO_MODULES) and {"socket", "concurrent.futures"} <= found


def test_no_tracked_file_reads_outside_the_repository():
    """A user's clone has nothing beside it: test data lives in tests/data (a clone without ../shared once
    failed at collection because three test modules read the captures from there)."""
    offenders = []
    for folder in ("core", "storage", "actors", "kraken_runtime", "tests", "ops"):
        for path in sources(folder):
            if folder == "kraken_runtime" and path.relative_to(REPO / folder).parts[0] in {"core", "storage", "actors"}:
                continue
            if path == Path(__file__).resolve():
                continue  # this test names the patterns it looks for
            text = path.read_text(encoding="utf-8")
            if '"shared" / "kraken"' in text or "parents[3].parent" in text or "REPO_ROOT.parent" in text:
                offenders.append(relative(path))
    assert not offenders, offenders
