"""The hospital arrangement, tried (issue 28): `python deploy/stack.py up` starts PostgreSQL, two app
instances, HAProxy with TLS and cookie affinity, and oidc-provider-mock, on loopback, exactly as docs/deployment.md
says. A reviewer signs in through the proxy, uploads an export and releases a report; a second browser on the other
instance sees the release; one instance is killed and the other keeps serving, with nothing stored lost."""
from __future__ import annotations

import base64
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from builders import qs17, sample_wells  # noqa: E402
from test_browser import ARGS, CHROMIUM, SHOTS, _wait_for_text, _wait_idle, needs_browser  # noqa: E402
from test_signin_browser import USERS, sign_in  # noqa: E402

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]


def _insecure() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE  # the loopback stack's self-signed certificate
    return ctx


def _get(url: str, cookie: str | None = None):
    req = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    return urllib.request.urlopen(req, timeout=10, context=_insecure())


def _websocket_upgrade(port: int, cookie: str) -> str:
    """The first response to a WebSocket handshake on Streamlit's stream, through the proxy (status line + headers)."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    with _insecure().wrap_socket(raw, server_hostname="127.0.0.1") as s:
        key = base64.b64encode(os.urandom(16)).decode()
        s.sendall((f"GET /_stcore/stream HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: streamlit\r\n"
                   f"Origin: https://127.0.0.1:{port}\r\nCookie: {cookie}\r\n\r\n").encode())
        return s.recv(4096).decode(errors="replace")


@pytest.fixture(scope="module")
def stack():
    needs_browser()
    for tool in ("haproxy", "openssl"):
        if subprocess.run(["which", tool], capture_output=True).returncode != 0:
            pytest.skip(f"{tool} is not installed (apt-get install -y {tool}; .ci/run does it)")
    pytest.importorskip("oidc_provider_mock", reason="oidc-provider-mock is not installed")
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="tdm1stack-"))  # not under pytest's 0700 folders: PostgreSQL runs as its own user
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    up = subprocess.run([sys.executable, "deploy/stack.py", "up", "--dir", str(folder), "--port", str(port),],
                        cwd=ROOT, capture_output=True, text=True, timeout=600)
    if up.returncode != 0 and "PostgreSQL is not installed" in up.stderr:
        pytest.skip(up.stderr.strip())
    assert up.returncode == 0, up.stderr + up.stdout
    state = json.loads((folder / "stack.json").read_text())
    for sub, claims in USERS.items():
        req = urllib.request.Request(f"{state['identity_provider']}/users/{sub}", data=json.dumps(claims).encode(),
                                     method="PUT", headers={"Content-Type": "application/json"})
        assert urllib.request.urlopen(req, timeout=10).status == 204
    try:
        yield state, port, folder
    finally:
        down = subprocess.run([sys.executable, "deploy/stack.py", "down", "--dir", str(folder)], cwd=ROOT,
                              capture_output=True, text=True, timeout=120)
        assert down.returncode == 0, down.stderr
        for pid in state["pids"].values():
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)
        shutil.rmtree(folder, ignore_errors=True)


def test_the_proxy_speaks_tls_keeps_a_browser_on_its_instance_and_passes_the_websocket(stack):
    state, port, _ = stack
    url = state["proxy"]
    first = _get(url + "/_stcore/health")
    assert first.status == 200
    cookie = next(c for c in first.headers.get_all("Set-Cookie") if c.startswith("TDM1_INSTANCE="))
    assert "TDM1_INSTANCE=app" in cookie and "Secure" in cookie and "HttpOnly" in cookie
    instance = first.headers["X-TDM1-Instance"]
    assert {_get(url + "/_stcore/health", f"TDM1_INSTANCE={instance}").headers["X-TDM1-Instance"]
            for _ in range(6)} == {instance}  # affinity
    assert {_get(url + "/_stcore/health").headers["X-TDM1-Instance"] for _ in range(6)} == {"app1", "app2"}  # new ones spread
    handshake = _websocket_upgrade(port, f"TDM1_INSTANCE={instance}")
    assert handshake.startswith("HTTP/1.1 101") and f"x-tdm1-instance: {instance}" in handshake.lower()
    assert "strict-transport-security" in first.headers.as_string().lower()


def _sign_in(browser, url: str, sub: str, instance: str | None = None):
    """Sign in through the proxy; ``instance`` pins the browser to one instance first (the proxy's affinity cookie,
    as a browser that already visited it has)."""
    cookies = [{"name": "TDM1_INSTANCE", "value": instance, "url": url}] if instance else None
    return sign_in(browser, url, sub, cookies=cookies, ignore_https_errors=True)


def _instance_of(context) -> str:
    return next(c["value"] for c in context.cookies() if c["name"] == "TDM1_INSTANCE")


def _open_patient(pg, url: str, export: bytes, patient: str) -> None:
    pg.goto(url + "/patient-result")
    _wait_for_text(pg, "Upload a ddPCR export")
    pg.locator("[data-testid='stFileUploaderDropzoneInput']").first.set_input_files(
        files=[{"name": "run77.csv", "mimeType": "text/csv", "buffer": export}])
    _wait_for_text(pg, "Release for the hospital record")
    pg.get_by_label("Pseudonymous patient ID (optional; no names)").fill(patient)
    pg.keyboard.press("Enter")
    _wait_for_text(pg, f"Patient ID: {patient}")
    _wait_idle(pg)


def _released_rows(database_url: str) -> list[tuple]:
    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT report_id, version, content_sha256, pdf_sha256 FROM released_reports")).all()
    engine.dispose()
    return [tuple(r) for r in rows]


def test_release_through_the_proxy_seen_on_the_other_instance_and_an_instance_killed(stack):
    from playwright.sync_api import sync_playwright

    state, _, _ = stack
    url = state["proxy"]
    export = qs17(sample_wells("DP1", her2=900))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        ctx_a, pg_a = _sign_in(browser, url, "rita")
        assert "Rita Reviewer" in _wait_for_text(pg_a, "Rita Reviewer")
        mine = _instance_of(ctx_a)
        other = {"app1": "app2", "app2": "app1"}[mine]
        _open_patient(pg_a, url, export, "PX-DEPLOY")
        pg_a.get_by_text("I have reviewed this result").click()
        pg_a.get_by_role("button", name="Release this report").click()
        assert "version 1 (final)" in _wait_for_text(pg_a, "Released report TDM1-")
        assert _instance_of(ctx_a) == mine  # the upload, the sign-in callback and the release stayed on one instance
        pg_a.screenshot(path=str(SHOTS / "deploy_released_through_proxy.png"), full_page=False)
        stored = _released_rows(state["database_url"])
        assert len(stored) == 1

        ctx_b, pg_b = _sign_in(browser, url, "rita", instance=other)
        assert _instance_of(ctx_b) == other
        _open_patient(pg_b, url, export, "PX-DEPLOY")
        assert "Version 1" in _wait_for_text(pg_b, "Version 1")  # the release made on the other instance

        os.killpg(state["pids"][mine], signal.SIGKILL)  # the first browser's instance dies mid-session
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if _get(url + "/_stcore/health", f"TDM1_INSTANCE={mine}").headers["X-TDM1-Instance"] == other:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        else:
            pytest.fail("the proxy kept sending the dead instance's browsers to it")
        pg_a.reload()
        text = _wait_for_text(pg_a, "T-DM1", timeout=60)
        assert "Connection error" not in text and "Traceback" not in text
        assert "Rita Reviewer" in text or "Sign in with your hospital account" in text, text[-800:]
        pg_a.screenshot(path=str(SHOTS / "deploy_after_instance_killed.png"), full_page=False)
        assert {_get(url + "/_stcore/health").headers["X-TDM1-Instance"] for _ in range(4)} == {other}
        assert _released_rows(state["database_url"]) == stored  # nothing stored is lost
        browser.close()
