"""A command line signed in against an identity provider (issue 28), for the tests (conftest's ``signed_in_cli``)
and the benchmarks that drive the command line on a shared database: a real login (PKCE, loopback redirect, the
token verified), its token in a throw-away config folder."""
from __future__ import annotations

import json
import os
import threading
import urllib.parse
import urllib.request
from pathlib import Path

_LOCK = threading.Lock()  # a login sets the process's environment for a moment


def provider_sign_in(url: str, sub: str) -> None:
    """What a person does in the browser the command line opens: the provider's form, their user, Authorize (the
    provider then redirects to the command line's loopback address, which urllib follows)."""
    urllib.request.urlopen(url, timeout=30).read()  # the form
    data = urllib.parse.urlencode({"sub": sub}).encode()
    urllib.request.urlopen(urllib.request.Request(url, data=data, method="POST"), timeout=30).read()


def signed_in_env(provider_url: str, folder: Path, sub: str, email: str, roles: "list[str] | None" = None) -> dict[str, str]:
    """The environment of a command line signed in as ``email`` (``roles`` as the token's claim, if given) through
    oidc-provider-mock at ``provider_url``; ``folder`` receives the app's secrets file and the user's config folder."""
    from tdm1core.app.signin import client_config, login

    folder.mkdir(parents=True, exist_ok=True)
    secrets_file = folder / "secrets.toml"
    secrets_file.write_text(f'[auth]\nredirect_uri = "http://127.0.0.1:1/oauth2callback"\ncookie_secret = "{"c" * 64}"\n'
                            f'client_id = "tdm1-cli"\nclient_secret = "s3cret"\n'
                            f'server_metadata_url = "{provider_url}/.well-known/openid-configuration"\n')
    claims = {"email": email, "name": email.split("@")[0].title(), **({"roles": roles} if roles is not None else {})}
    req = urllib.request.Request(f"{provider_url}/users/{sub}", data=json.dumps(claims).encode(), method="PUT",
                                 headers={"Content-Type": "application/json"})
    assert urllib.request.urlopen(req, timeout=10).status == 204
    env = {"XDG_CONFIG_HOME": str(folder / "config"), "TDM1_SECRETS_FILE": str(secrets_file)}
    with _LOCK:
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            login(client_config(), lambda url: provider_sign_in(url, sub), timeout=60)
        finally:
            for k, v in saved.items():
                os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    return env
