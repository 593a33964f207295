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
    """Start a throw-away PostgreSQL server on loopback (Debian's postgresql package). Returns (url, stop) or a skip reason."""
    import glob
    import os
    import shutil
    import socket
    import subprocess
    import time

    if os.environ.get("TDM1_TEST_POSTGRES_URL"):
        return os.environ["TDM1_TEST_POSTGRES_URL"], (lambda: None)
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not bins:
        return "PostgreSQL is not installed (apt-get install -y postgresql; .ci/run does it)", None
    bindir = Path(bins[-1]).parent
    runas: list[str] = []
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            return "running as root without runuser: cannot start PostgreSQL as another user", None
        runas = ["runuser", "-u", "postgres", "--"]
    data = tmp_root / "pgdata"
    data.mkdir(parents=True)
    if runas:
        shutil.chown(tmp_root, "postgres")
        shutil.chown(data, "postgres")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    try:
        subprocess.run(runas + [str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"],
                       check=True, capture_output=True, timeout=120)
        subprocess.run(runas + [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(data / "log"), "-w", "-o",
                                f"-p {port} -k {tmp_root} -c listen_addresses=127.0.0.1 -c fsync=off", "start"],
                       check=True, capture_output=True, timeout=120)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        return f"could not start PostgreSQL: {exc} {detail.decode(errors='replace')[-300:]}", None

    def stop() -> None:
        subprocess.run(runas + [str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], capture_output=True, timeout=60)

    time.sleep(0.3)
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", stop


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
