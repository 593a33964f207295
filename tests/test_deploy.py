"""The deployment files (issue 28): the proxy configuration for real hosts is one HAProxy accepts, with the settings
Streamlit needs; the units name what the docs say."""
from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from conftest import ROOT


def test_the_rendered_proxy_configuration_is_valid_haproxy_with_affinity_websocket_timeouts_and_health(tmp_path):
    if shutil.which("haproxy") is None or shutil.which("openssl") is None:
        pytest.skip("haproxy or openssl is not installed (apt-get install -y haproxy openssl; .ci/run does it)")
    sys.path.insert(0, str(ROOT / "deploy"))
    import stack

    pem = stack.self_signed(tmp_path)
    out = subprocess.run([sys.executable, "deploy/stack.py", "render-proxy", "--server", "10.0.0.11:8501",
                          "--server", "10.0.0.12:8501", "--bind", ":443", "--cert", str(pem)],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(out)
    check = subprocess.run(["haproxy", "-c", "-f", str(cfg)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    for needed in ("cookie TDM1_INSTANCE insert", "option httpchk GET /_stcore/health", "timeout tunnel 1h",
                   "option redispatch", "retry-on conn-failure empty-response", "timeout check 5s", "server app1 10.0.0.11:8501 check cookie app1",
                   "server app2 10.0.0.12:8501 check cookie app2", f"ssl crt {pem}"):
        assert needed in out, needed
    broken = tmp_path / "broken.cfg"
    broken.write_text(out.replace("timeout tunnel 1h", "timeout tunnel forever"))
    assert subprocess.run(["haproxy", "-c", "-f", str(broken)], capture_output=True).returncode != 0  # the check can fail


def test_the_units_run_the_app_and_the_backup_as_documented():
    unit = (ROOT / "deploy" / "systemd" / "tdm1@.service").read_text()
    assert "--server.port %i" in unit and "EnvironmentFile=/etc/tdm1/tdm1.env" in unit and "UMask=0077" in unit
    backup = (ROOT / "deploy" / "systemd" / "tdm1-backup.service").read_text()
    assert "pg_dump --format=custom" in backup and "/var/backups/tdm1/" in backup
    docs = (ROOT / "docs" / "deployment.md").read_text()
    for name in ("tdm1@.service", "tdm1-backup.service", "tdm1.env.example", "render-proxy", "stack.py up"):
        assert name in docs
