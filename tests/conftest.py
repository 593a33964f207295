import os
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

SHARED_DDPCR = ROOT.parent / "shared" / "data" / "ddpcr"

# Hermetic: a test that does not name a database never reads or writes the developer's data/tdm1.sqlite (whose saved
# settings the command line starts from); tests that need their own set TDM1_DB_PATH themselves.
if "TDM1_DB_PATH" not in os.environ:
    os.environ["TDM1_DB_PATH"] = str(Path(tempfile.mkdtemp(prefix="tdm1-tests-")) / "tdm1.sqlite")
os.environ.pop("TDM1_DATABASE_URL", None)


@pytest.fixture
def shared_ddpcr() -> Path:
    if not SHARED_DDPCR.is_dir():
        pytest.skip(f"the real exports folder {SHARED_DDPCR} is absent (it sits beside the repository in the workplace)")
    return SHARED_DDPCR


def _start_postgres(tmp_root: Path):
    """Start a throw-away PostgreSQL server on loopback (Debian's postgresql package), as the loopback stack does
    (deploy/stack.py). Returns (url, stop) or (a skip reason, None)."""
    import importlib.util
    import os
    import subprocess

    if os.environ.get("TDM1_TEST_POSTGRES_URL"):
        return os.environ["TDM1_TEST_POSTGRES_URL"], (lambda: None)
    spec = importlib.util.spec_from_file_location("tdm1_stack", ROOT / "deploy" / "stack.py")
    stack = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(stack)
    try:
        url, stop = stack.start_postgres(tmp_root)
    except stack.StackError as exc:
        return str(exc), None
    stop = [a if a != "fast" else "immediate" for a in stop]
    return url, (lambda: subprocess.run(stop, capture_output=True, timeout=60))


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory):
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="tdm1pg-"))
    url, stop = _start_postgres(root)
    if stop is None:
        pytest.skip(url)
    yield url
    stop()


@pytest.fixture
def postgres_url(postgres_server):
    """A fresh database on the test server for each test."""
    import uuid

    import sqlalchemy as sa

    name = "t_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    url = postgres_server.rsplit("/", 1)[0] + "/" + name
    yield url
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    """A fresh database on SQLite and on a real PostgreSQL server (the PostgreSQL case skips where none can start)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite'}"
    return request.getfixturevalue("postgres_url")


# ------------------------------------------------------------------ the command line signed in (issue 28)

from cli_signin_env import provider_sign_in, signed_in_env  # noqa: E402,F401  (the tests import them from here)


@pytest.fixture(scope="session")
def identity_provider_url():
    """oidc-provider-mock on 127.0.0.1 for the whole run; users are added with PUT /users/{sub}."""
    import os

    pytest.importorskip("oidc_provider_mock", reason="oidc-provider-mock is not installed")
    from oidc_provider_mock import run_server_in_thread

    os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"
    with run_server_in_thread(port=0) as server:
        yield f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture(scope="session")
def signed_in_cli(identity_provider_url, tmp_path_factory):
    """``env_for(email, roles=None)``: the environment of a command line signed in as that user (a real login against
    the mock provider: PKCE, loopback redirect, the token verified), to pass to subprocesses or monkeypatch."""
    made: dict = {}

    def env_for(email: str, roles: list[str] | None = None) -> dict[str, str]:
        key = (email, tuple(roles) if roles is not None else None)
        if key not in made:
            made[key] = signed_in_env(identity_provider_url, tmp_path_factory.mktemp("signed-in"),
                                      f"cli-user-{len(made)}", email, roles)
        return made[key]

    return env_for
