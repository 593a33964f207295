"""The command line signs in on a shared database (issue 28): authorization code with PKCE and a loopback redirect
against oidc-provider-mock, the token kept 0600 and verified on every command, --who refused there, the first
admin bootstrapped once, and the audit naming the subject, the OS user and the host."""
from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import time

import pytest
from hypothesis import given, settings, strategies as st
import sqlalchemy as sa

from conftest import ROOT, provider_sign_in
from tdm1core.errors import InputError


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~", min_size=43, max_size=128))
def test_the_pkce_challenge_is_the_s256_of_rfc_7636(verifier):
    """Checked against Authlib's own RFC 7636 implementation (an independent oracle)."""
    from authlib.oauth2.rfc7636 import create_s256_code_challenge

    from tdm1core.app.signin import pkce_challenge

    assert pkce_challenge(verifier) == create_s256_code_challenge(verifier)


def _apply(monkeypatch, env: dict) -> None:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("TDM1_USER", raising=False)


def test_login_keeps_a_private_verified_token_and_the_shared_database_acts_as_its_user(signed_in_cli, postgres_url,
                                                                                      monkeypatch):
    from tdm1core.app.context import command_line_user
    from tdm1core.app.signin import token_path
    from tdm1core.storage.store import Store

    _apply(monkeypatch, signed_in_cli("cara@hospital.example", ["clinician"]))
    path = token_path()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    store = Store(postgres_url)
    user = command_line_user(store)
    assert (user.email, user.roles, user.mode, user.roles_source) == ("cara@hospital.example", {"clinician"}, "signed-in", "claim")
    assert re.fullmatch(r"command line \S+@\S+", user.session)
    with pytest.raises(InputError, match="only on this machine's embedded database"):
        command_line_user(store, "ada@hospital.example")
    monkeypatch.setenv("TDM1_USER", "ada@hospital.example")
    with pytest.raises(InputError, match="only on this machine's embedded database"):
        command_line_user(store)


def test_a_forged_an_edited_or_a_readable_token_is_refused(signed_in_cli, postgres_url, monkeypatch):
    from joserfc import jwt
    from joserfc.jwk import RSAKey

    from tdm1core.app.context import command_line_user
    from tdm1core.app.signin import token_path
    from tdm1core.storage.store import Store

    _apply(monkeypatch, signed_in_cli("rex@hospital.example", ["researcher"]))
    store = Store(postgres_url)
    path = token_path()
    good = path.read_text()
    saved = json.loads(good)
    forged_key = RSAKey.generate_key(2048)
    payload = {"iss": saved["issuer"], "aud": "tdm1-cli", "sub": "x", "email": "mallory@evil.example", "roles": ["admin"],
               "exp": int(time.time()) + 600, "iat": int(time.time())}
    forged = jwt.encode({"alg": "RS256", "kid": "forged"}, payload, forged_key)
    path.write_text(json.dumps({"id_token": forged, "issuer": saved["issuer"]}))
    with pytest.raises(InputError, match="not valid"):
        command_line_user(store)
    head, body, sig = saved["id_token"].split(".")
    path.write_text(json.dumps({"id_token": f"{head}.{body[:-4]}AAAA.{sig}", "issuer": saved["issuer"]}))
    with pytest.raises(InputError):
        command_line_user(store)
    path.write_text(good)
    os.chmod(path, 0o644)
    with pytest.raises(InputError, match="can be read by other users"):
        command_line_user(store)
    os.chmod(path, 0o600)
    assert command_line_user(store).email == "rex@hospital.example"
    path.unlink()
    with pytest.raises(InputError, match="not signed in"):
        command_line_user(store)


def test_an_expired_token_is_refused(tmp_path, monkeypatch, postgres_url):
    pytest.importorskip("oidc_provider_mock")
    import datetime as dt
    import urllib.request

    from oidc_provider_mock import run_server_in_thread

    from tdm1core.app.context import command_line_user
    from tdm1core.app.signin import client_config, login
    from tdm1core.storage.store import Store

    with run_server_in_thread(port=0, access_token_max_age=dt.timedelta(seconds=2)) as server:
        idp = f"http://127.0.0.1:{server.server_address[1]}"
        req = urllib.request.Request(f"{idp}/users/short", data=json.dumps({"email": "s@h.example", "roles": ["researcher"]}).encode(),
                                     method="PUT", headers={"Content-Type": "application/json"})
        urllib.request.urlopen(req, timeout=10)
        secrets_file = tmp_path / "secrets.toml"
        secrets_file.write_text(f'[auth]\nclient_id = "tdm1-cli"\nclient_secret = "x"\nserver_metadata_url = "{idp}/.well-known/openid-configuration"\n')
        monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
        monkeypatch.setenv("TDM1_SECRETS_FILE", str(secrets_file))
        monkeypatch.delenv("TDM1_USER", raising=False)
        login(client_config(), lambda url: provider_sign_in(url, "short"), timeout=60)
        store = Store(postgres_url)
        assert command_line_user(store).email == "s@h.example"
        time.sleep(3)
        with pytest.raises(InputError, match="not valid"):
            command_line_user(store)


def test_login_on_the_command_line_then_the_first_admin_is_bootstrapped_once_and_audited(identity_provider_url, tmp_path,
                                                                                        postgres_url):
    import urllib.request

    req = urllib.request.Request(f"{identity_provider_url}/users/ann", method="PUT",
                                 data=json.dumps({"email": "ann@hospital.example", "name": "Ann"}).encode(),
                                 headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req, timeout=10)
    secrets_file = tmp_path / "secrets.toml"
    secrets_file.write_text(f'[auth]\nclient_id = "tdm1-cli"\nclient_secret = "x"\n'
                            f'server_metadata_url = "{identity_provider_url}/.well-known/openid-configuration"\n')
    env = {k: v for k, v in os.environ.items() if k != "TDM1_USER"}
    env.update(XDG_CONFIG_HOME=str(tmp_path / "config"), TDM1_SECRETS_FILE=str(secrets_file))
    proc = subprocess.Popen([sys.executable, "-m", "tdm1core", "login", "--no-browser", "--timeout", "60"], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdout.readline()
    url = proc.stdout.readline().strip()
    assert "code_challenge_method=S256" in url and "code_challenge=" in url and "redirect_uri=http%3A%2F%2F127.0.0.1" in url
    provider_sign_in(url, "ann")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "signed in as ann@hospital.example" in out, err
    run = lambda *a: subprocess.run([sys.executable, "-m", "tdm1core", *a], cwd=ROOT, env=env, capture_output=True,  # noqa: E731
                                    text=True, timeout=120)
    refused = run("db", "audit", "--db", postgres_url)
    assert refused.returncode == 2 and "needs the role admin" in refused.stderr
    assert run("db", "roles", "--db", postgres_url, "--email", "ann@hospital.example", "--set", "admin").returncode == 0
    again = run("db", "roles", "--db", postgres_url, "--email", "bob@hospital.example", "--set", "admin")
    assert again.returncode == 0  # ann is admin now, so this is an admin's change, not a bootstrap
    who = run("db", "status", "--db", postgres_url, "--who", "ann@hospital.example")
    assert who.returncode == 2 and "only on this machine's embedded database" in who.stderr
    engine = sa.create_engine(postgres_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT who, action, session FROM audit_log WHERE action IN ('roles change', "
                                    "'bootstrap first admin') ORDER BY id")).all()
    engine.dispose()
    assert [r.action for r in rows] == ["roles change", "bootstrap first admin", "roles change"]  # bootstrapped once
    assert all(r.who == "ann@hospital.example" for r in rows)
    assert all(re.fullmatch(r"command line \S+@\S+", r.session or "") for r in rows), rows
    assert run("logout").stdout.startswith("signed out")
    assert "not signed in" in run("db", "status", "--db", postgres_url).stderr
