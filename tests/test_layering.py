"""The dependency direction of DESIGN.md, checked by walking every import in the tree."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
OURS = {"core", "storage", "actors", "kraken_runtime", "tests", "ops"}
# What each layer may import of ours.
ALLOWED = {
    "core": {"core"},
    "storage": {"storage", "core"},
    "actors": {"actors", "core", "storage"},
    "kraken_runtime": {"kraken_runtime", "core", "storage", "actors"},
}
# Third-party I/O and runtime libraries that only actors/, the entry point and named adapters may use.
RUNTIME_ONLY = {"pykka", "prometheus_client"}
IO_LIBRARIES = {"websocket", "requests", "websockets"}
IO_ADAPTERS = ("core/kraken/rest.py", "core/kraken/ws.py", "core/sim_server/")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def _sources(package: str) -> list[Path]:
    return sorted((REPO / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_layer_imports_only_what_it_may(package):
    offenders = []
    for path in _sources(package):
        ours = _imports(path) & OURS
        if not ours <= ALLOWED[package]:
            offenders.append(f"{path.relative_to(REPO)} imports {sorted(ours - ALLOWED[package])}")
    assert not offenders, "\n".join(offenders)


def test_core_and_storage_stay_free_of_actor_runtime_and_sockets():
    offenders = []
    for package in ("core", "storage"):
        for path in _sources(package):
            relative = path.relative_to(REPO).as_posix()
            found = _imports(path)
            if found & RUNTIME_ONLY:
                offenders.append(f"{relative} imports {sorted(found & RUNTIME_ONLY)}")
            if found & IO_LIBRARIES and not relative.startswith(IO_ADAPTERS):
                offenders.append(f"{relative} imports {sorted(found & IO_LIBRARIES)} outside the I/O adapters")
    assert not offenders, "\n".join(offenders)


def test_nothing_imports_tests_or_ops():
    offenders = [
        str(path.relative_to(REPO))
        for package in ALLOWED
        for path in _sources(package)
        if _imports(path) & {"tests", "ops"}
    ]
    assert not offenders


def test_sql_lives_only_in_storage():
    offenders = [
        str(path.relative_to(REPO))
        for package in ("core", "actors", "kraken_runtime")
        for path in _sources(package)
        if _imports(path) & {"peewee", "playhouse", "sqlite3", "psycopg2"}
    ]
    assert not offenders, offenders
