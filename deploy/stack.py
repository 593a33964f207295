"""The hospital arrangement on one machine, on loopback, for trying it: PostgreSQL, N app instances, HAProxy with TLS
and cookie affinity in front, and oidc-provider-mock as the identity provider (a shared database is served only
signed in). No container runtime.

    python deploy/stack.py up [--dir .stack] [--instances 2] [--port 8443] [--database-url URL] [--cert PEM]
    python deploy/stack.py status [--dir .stack]
    python deploy/stack.py down [--dir .stack] [--purge]
    python deploy/stack.py render-proxy --server 127.0.0.1:8501 --server 127.0.0.1:8502 --bind :443 --cert /etc/ssl/tdm1.pem

``up`` prints the proxy's URL and writes ``DIR/stack.json`` (the processes, ports and the database URL); ``down``
stops what ``up`` started. ``render-proxy`` writes the HAProxy configuration for real hosts (docs/deployment.md).
Standard library only, plus SQLAlchemy for creating the database; Debian's haproxy, openssl and postgresql.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "deploy" / "haproxy" / "tdm1.cfg.in"
STATE = "stack.json"


class StackError(Exception):
    """What could not be started, and how to fix it."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _need(tool: str, package: str) -> str:
    found = shutil.which(tool)
    if found is None:
        raise StackError(f"{tool} is not installed: apt-get install -y {package}")
    return found


# ------------------------------------------------------------------ PostgreSQL

def start_postgres(root: Path) -> tuple[str, list[str]]:
    """A throw-away PostgreSQL server on loopback in ``root/pgdata`` (as the postgres user when run as root).
    Returns (URL of its ``postgres`` database, the command that stops it)."""
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not bins:
        raise StackError("PostgreSQL is not installed: apt-get install -y postgresql")
    bindir = Path(bins[-1]).parent
    runas: list[str] = []
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            raise StackError("running as root without runuser: cannot start PostgreSQL as another user")
        runas = ["runuser", "-u", "postgres", "--"]
    data = root / "pgdata"
    data.mkdir(parents=True)
    if runas:
        shutil.chown(root, "postgres")
        shutil.chown(data, "postgres")
    port = free_port()
    try:
        subprocess.run(runas + [str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"],
                       check=True, capture_output=True, timeout=120)
        subprocess.run(runas + [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(data / "log"), "-w", "-o",
                                f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off", "start"],
                       check=True, capture_output=True, timeout=120)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        detail = (getattr(exc, "stderr", b"") or b"").decode(errors="replace")[-300:]
        raise StackError(f"could not start PostgreSQL: {exc} {detail}") from None
    time.sleep(0.3)
    stop = runas + [str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"]
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", stop


def _create_database(server_url: str, name: str) -> str:
    import sqlalchemy as sa

    engine = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        if not conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).scalar():
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return server_url.rsplit("/", 1)[0] + "/" + name


# ------------------------------------------------------------------ the proxy

def render_proxy(servers: list[str], bind: str, cert: str) -> str:
    """The HAProxy configuration for these instances (host:port each), bound to ``bind`` with the PEM ``cert``."""
    lines = [f"    server app{i} {hostport} check cookie app{i}" for i, hostport in enumerate(servers, start=1)]
    return TEMPLATE.read_text().format(bind=bind, cert=cert, servers="\n".join(lines))


def self_signed(folder: Path) -> Path:
    """A certificate for 127.0.0.1 and its key in one PEM (0600), valid 30 days: for trying the stack only."""
    _need("openssl", "openssl")
    key, crt, pem = folder / "proxy.key", folder / "proxy.crt", folder / "proxy.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(crt),
                    "-days", "30", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True, timeout=60)
    pem.write_bytes(crt.read_bytes() + key.read_bytes())
    os.chmod(pem, 0o600)
    key.unlink()
    return pem


# ------------------------------------------------------------------ processes

def _spawn(cmd: list[str], log: Path, env: dict[str, str] | None = None) -> int:
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    return proc.pid


def _wait_http(url: str, timeout: float = 90, context: ssl.SSLContext | None = None) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(url, timeout=2, context=context).status == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise StackError(f"{url} did not answer within {timeout:g} s (see the logs in the stack's folder)")


def insecure_context() -> ssl.SSLContext:
    """For the loopback stack's self-signed certificate only."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _secrets(folder: Path, proxy_url: str, idp: str) -> Path:
    path = folder / "secrets.toml"
    path.write_text(f"""[auth]
redirect_uri = "{proxy_url}/oauth2callback"
cookie_secret = "{secrets.token_hex(32)}"
client_id = "tdm1-dashboard"
client_secret = "{secrets.token_hex(16)}"
server_metadata_url = "{idp}/.well-known/openid-configuration"
""")
    os.chmod(path, 0o600)
    return path


def _instance_cmd(port: int, secrets_file: Path) -> list[str]:
    return [sys.executable, "-m", "streamlit", "run", "app.py", "--server.address", "127.0.0.1", "--server.port", str(port),
            "--server.headless", "true", "--browser.gatherUsageStats", "false", "--secrets.files", str(secrets_file)]


def up(folder: Path, instances: int = 2, port: int = 8443, database_url: str | None = None, cert: str | None = None) -> dict:
    """Start the stack; returns (and writes to DIR/stack.json) what runs where."""
    _need("haproxy", "haproxy")
    if (folder / STATE).exists():
        raise StackError(f"a stack is already up in {folder} (python deploy/stack.py down --dir {folder})")
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o711)  # others may pass through (PostgreSQL runs as its own user) but not list it
    state: dict = {"dir": str(folder), "pids": {}, "started": time.strftime("%Y-%m-%dT%H:%M:%S")}
    try:
        return _up(folder, instances, port, database_url, cert, state)
    except BaseException:
        _write_state(folder, state)
        down(folder)
        raise


def _up(folder: Path, instances: int, port: int, database_url: str | None, cert: str | None, state: dict) -> dict:
    if database_url is None:
        server, stop = start_postgres(folder / "postgres")
        state["postgres_stop"] = stop
        database_url = _create_database(server, "tdm1")
    state["database_url"] = database_url
    env = dict(os.environ, TDM1_DATABASE_URL=database_url)
    env.pop("TDM1_DB_PATH", None)
    proxy_url = f"https://127.0.0.1:{port}"
    idp_port = free_port()  # a shared database is served signed in only: the mock provider, on loopback
    state["pids"]["identity-provider"] = _spawn([sys.executable, "-m", "oidc_provider_mock", "-p", str(idp_port)],
                                                folder / "idp.log")
    state["identity_provider"] = f"http://127.0.0.1:{idp_port}"
    _wait_http(state["identity_provider"] + "/.well-known/openid-configuration")
    secrets_file = _secrets(folder, proxy_url, state["identity_provider"])
    state["secrets"] = str(secrets_file)
    env["AUTHLIB_INSECURE_TRANSPORT"] = "1"  # the mock provider speaks plain http on loopback: trying only
    subprocess.run([sys.executable, "-c", "from tdm1core.app.workflows import open_store; open_store()"], cwd=ROOT,
                   env=env, check=True, capture_output=True, timeout=300)  # migrate and seed once, before N instances
    ports = [free_port() for _ in range(instances)]
    for i, p in enumerate(ports, start=1):
        state["pids"][f"app{i}"] = _spawn(_instance_cmd(p, secrets_file), folder / f"app{i}.log", env)
    state["instances"] = {f"app{i}": f"http://127.0.0.1:{p}" for i, p in enumerate(ports, start=1)}
    _write_state(folder, state)
    for url in state["instances"].values():
        _wait_http(url + "/_stcore/health")
    pem = cert or str(self_signed(folder))
    cfg = folder / "haproxy.cfg"
    cfg.write_text(render_proxy([f"127.0.0.1:{p}" for p in ports], f"127.0.0.1:{port}", pem))
    check = subprocess.run(["haproxy", "-c", "-q", "-f", str(cfg)], capture_output=True, text=True)
    if check.returncode != 0:
        raise StackError("the proxy configuration is refused: " + (check.stderr or check.stdout)[-500:])
    state["pids"]["proxy"] = _spawn(["haproxy", "-db", "-f", str(cfg)], folder / "proxy.log")
    state["proxy"] = proxy_url
    _write_state(folder, state)
    _wait_http(proxy_url + "/_stcore/health", context=insecure_context())
    return state


def _write_state(folder: Path, state: dict) -> None:
    path = folder / STATE
    path.write_text(json.dumps(state, indent=1))
    os.chmod(path, 0o600)


def read_state(folder: Path) -> dict:
    path = folder / STATE
    if not path.exists():
        raise StackError(f"no stack is up in {folder} (python deploy/stack.py up --dir {folder})")
    return json.loads(path.read_text())


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a child of this process that exited is a zombie until reaped: not alive
        return os.waitpid(pid, os.WNOHANG) == (0, 0)
    except ChildProcessError:
        return True


def stop_pid(pid: int, timeout: float = 15) -> None:
    """SIGTERM to the process group the stack started, then SIGKILL after ``timeout`` seconds."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except (ProcessLookupError, PermissionError):
            return
        deadline = time.time() + timeout
        while time.time() < deadline and alive(pid):
            time.sleep(0.2)
        if not alive(pid):
            return


def down(folder: Path, purge: bool = False) -> None:
    """Stop what ``up`` started (the proxy first, then the instances, the provider and PostgreSQL)."""
    state = read_state(folder)
    for name in ["proxy", *sorted(k for k in state["pids"] if k.startswith("app")), "identity-provider"]:
        if name in state["pids"]:
            stop_pid(state["pids"][name])
    if state.get("postgres_stop"):
        subprocess.run(state["postgres_stop"], capture_output=True, timeout=60)
    (folder / STATE).unlink(missing_ok=True)
    if purge:
        shutil.rmtree(folder, ignore_errors=True)


def status(folder: Path) -> dict:
    state = read_state(folder)
    out = {name: ("running" if alive(pid) else "stopped") for name, pid in state["pids"].items()}
    try:
        urllib.request.urlopen(state["proxy"] + "/_stcore/health", timeout=5, context=insecure_context())
        out["through the proxy"] = "healthy"
    except OSError as exc:
        out["through the proxy"] = f"not answering ({exc})"
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python deploy/stack.py", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    u = sub.add_parser("up", help="start PostgreSQL, the instances and the proxy on loopback")
    u.add_argument("--dir", default=".stack")
    u.add_argument("--instances", type=int, default=2)
    u.add_argument("--port", type=int, default=8443)
    u.add_argument("--database-url", help="an existing PostgreSQL database (default: start one in DIR)")
    u.add_argument("--cert", help="a PEM with the certificate and its key (default: a self-signed one for 127.0.0.1)")
    for name in ("status", "down"):
        q = sub.add_parser(name)
        q.add_argument("--dir", default=".stack")
        if name == "down":
            q.add_argument("--purge", action="store_true", help="also delete the folder (database included)")
    r = sub.add_parser("render-proxy", help="print the HAProxy configuration for real hosts")
    r.add_argument("--server", action="append", required=True, metavar="HOST:PORT")
    r.add_argument("--bind", default=":443")
    r.add_argument("--cert", required=True, metavar="PEM")
    args = p.parse_args(argv)
    try:
        if args.command == "up":
            state = up(Path(args.dir).resolve(), args.instances, args.port, args.database_url, args.cert)
            print(f"up: {state['proxy']} -> {', '.join(state['instances'].values())}; database {state['database_url']}; "
                  f"identity provider {state['identity_provider']} (add users: PUT /users/SUB with their claims)")
        elif args.command == "down":
            down(Path(args.dir).resolve(), args.purge)
            print("down")
        elif args.command == "status":
            for k, v in status(Path(args.dir).resolve()).items():
                print(f"{k}: {v}")
        else:
            print(render_proxy(args.server, args.bind, args.cert))
    except (StackError, subprocess.CalledProcessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
