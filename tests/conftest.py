"""Fixtures shared by every test layer: the recorded Kraken material (tests/data/kraken) and the two databases."""

from __future__ import annotations

import os
from collections.abc import Callable
import urllib.parse
import uuid
from pathlib import Path

import pytest

from tests import waiting

REPO_ROOT = Path(__file__).resolve().parents[1]
KRAKEN_DATA = REPO_ROOT / "tests" / "data" / "kraken"
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def kraken_data() -> Path:
    """Recorded Kraken traffic, REST responses and vectors, copied into the repository (see its README)."""
    assert KRAKEN_DATA.is_dir(), f"{KRAKEN_DATA} is missing from the checkout"
    return KRAKEN_DATA


def _pg_admin_connect(url: str):
    import psycopg2

    parts = urllib.parse.urlsplit(url)
    return psycopg2.connect(
        dbname=parts.path.lstrip("/"), user=parts.username, password=parts.password,
        host=parts.hostname, port=parts.port or 5432, connect_timeout=3,
    )


@pytest.fixture(scope="session")
def pg_base_url() -> str:
    """The PostgreSQL test server; unreachable means skip locally and FAIL under CI."""
    url = os.environ.get("KRT_TEST_POSTGRES_URL", DEFAULT_PG_URL)
    try:
        _pg_admin_connect(url).close()
    except Exception as exc:  # noqa: BLE001 - any driver error means unreachable
        message = f"PostgreSQL at {url} unreachable: {str(exc).strip().splitlines()[0] if str(exc).strip() else exc!r}"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI is set: PostgreSQL tests must run)")
        pytest.skip(message)
    return url


@pytest.fixture
def pg_url(pg_base_url: str):
    """A URL whose connections see a fresh, private schema, dropped afterwards."""
    schema = f"krt_test_{uuid.uuid4().hex[:12]}"
    conn = _pg_admin_connect(pg_base_url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'CREATE SCHEMA "{schema}"')
    options = urllib.parse.quote(f"-c search_path={schema}")
    sep = "&" if "?" in pg_base_url else "?"
    yield f"{pg_base_url}{sep}options={options}"
    with conn.cursor() as cur:
        cur.execute(f'DROP SCHEMA "{schema}" CASCADE')
    conn.close()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'krt.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    """Run the test once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("pg_url")


@pytest.fixture
def wait_until() -> Callable[..., object]:
    """Poll `condition` until it is truthy (returning its value) or fail after `timeout` seconds naming `what`."""
    return waiting.wait_until
