"""The command line's sign-in on a shared database (issue 28): the identity provider's authorization-code flow with
PKCE (RFC 7636, S256) and a loopback redirect (RFC 8252, as cloud command lines do), the ID token kept in the user's
config folder (0600) until it expires, and verified again on every command.

The trust anchor is the ``[auth]`` section the app itself signs in with (``.streamlit/secrets.toml``, or the file
``TDM1_SECRETS_FILE`` names): its ``server_metadata_url`` gives the issuer and its keys, its ``client_id`` the audience.
A token file alone proves nothing: every command checks its signature against the issuer's published keys, its issuer,
audience and expiry, so a hand-written or edited file is refused.
"""
from __future__ import annotations

import base64
import getpass
import hashlib
import http.server
import json
import os
import secrets
import socket
import threading
import time
import tomllib
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from tdm1core.errors import InputError

__all__ = ["OidcClient", "client_config", "pkce_challenge", "token_path", "login", "signed_in_claims", "logout",
           "command_line_host"]

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class OidcClient:
    """The identity provider and this application's registration there (from the app's ``[auth]``)."""

    metadata_url: str
    client_id: str
    client_secret: str | None
    source: str
    roles_claim: str = "roles"


def client_config(secrets_file: str | None = None) -> OidcClient:
    """The ``[auth]`` section of the app's secrets file (the same provider and client the app signs in with)."""
    path = Path(secrets_file or os.environ.get("TDM1_SECRETS_FILE") or ROOT / ".streamlit" / "secrets.toml")
    if not path.is_file():
        raise InputError(f"no secrets file at {str(path)!r}: the command line signs in with the app's [auth] section.",
                         source=str(path), hint="Give --secrets FILE or TDM1_SECRETS_FILE (docs/it-admin.md).")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        auth = data.get("auth", {})
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"the secrets file is not valid TOML ({exc}).", source=str(path)) from None
    access = data.get("access", {})
    if not auth.get("server_metadata_url") or not auth.get("client_id"):
        raise InputError("the secrets file has no [auth] server_metadata_url and client_id.", source=str(path),
                         hint="Configure sign-in as for the app (docs/it-admin.md).")
    claim = os.environ.get("TDM1_ROLES_CLAIM") or access.get("roles_claim") or "roles"
    return OidcClient(auth["server_metadata_url"], auth["client_id"], auth.get("client_secret"), str(path), claim)


def pkce_challenge(verifier: str) -> str:
    """RFC 7636's S256 code challenge of a code verifier."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def token_path() -> Path:
    """The user's token file: $XDG_CONFIG_HOME/tdm1/token.json (default ~/.config)."""
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "tdm1" / "token.json"


def command_line_host() -> str:
    """The OS user and the host, for the audit of every command-line action."""
    return f"{getpass.getuser()}@{socket.gethostname()}"


def _json(url: str, data: dict[str, str] | None = None, auth: tuple[str, str | None] | None = None) -> dict[str, Any]:
    headers = {"Accept": "application/json"}
    body = None
    if data is not None:
        body = urllib.parse.urlencode(data).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    if auth is not None and auth[1]:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=body, headers=headers), timeout=30) as resp:
            return json.loads(resp.read().decode("utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"the identity provider did not answer as expected at {url} ({type(exc).__name__}).",
                         source="identity provider", hint="Check the network and [auth] server_metadata_url.") from None


def _metadata(client: OidcClient) -> dict[str, Any]:
    meta = _json(client.metadata_url)
    for key in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not meta.get(key):
            raise InputError(f"the identity provider's metadata has no {key}.", source=client.metadata_url)
    return meta


class _Callback(http.server.BaseHTTPRequestHandler):
    """The loopback redirect: keeps the query of the first request to /callback and answers with a short page."""

    result: dict[str, str] = {}

    def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
        parsed = urllib.parse.urlparse(self.path)
        if parsed.path != "/callback":
            self.send_error(404)
            return
        type(self).result.update({k: v[0] for k, v in urllib.parse.parse_qs(parsed.query).items()})
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.end_headers()
        self.wfile.write(b"Signed in to the T-DM1 dashboard's command line. You may close this tab.")

    def log_message(self, *args: Any) -> None:  # nothing on the console, no codes in logs
        return


def _wait_for_code(server: http.server.HTTPServer, handler: type[_Callback], timeout: float) -> dict[str, str]:
    deadline = time.monotonic() + timeout  # a clock change does not end or prolong the wait
    server.timeout = 1
    while not handler.result and time.monotonic() < deadline:
        server.handle_request()
    if not handler.result:
        raise InputError("no answer from the identity provider within the time allowed.", source="login",
                         hint="Run login again and complete the sign-in in the browser.")
    return dict(handler.result)


def login(client: OidcClient, open_url: Callable[[str], Any], timeout: float = 300) -> dict[str, Any]:
    """Sign in: the authorization URL is given to ``open_url`` (a browser, or printed), the provider redirects to a
    one-shot server on 127.0.0.1, the code is exchanged with the PKCE verifier and the ID token verified and saved.
    Returns the token's claims."""
    meta = _metadata(client)
    verifier, state, nonce = secrets.token_urlsafe(64), secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    handler = type("Callback", (_Callback,), {"result": {}})
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    redirect = f"http://127.0.0.1:{server.server_address[1]}/callback"
    query = {"response_type": "code", "client_id": client.client_id, "redirect_uri": redirect, "scope": "openid email profile",
             "state": state, "nonce": nonce, "code_challenge": pkce_challenge(verifier), "code_challenge_method": "S256"}
    url = meta["authorization_endpoint"] + ("&" if "?" in meta["authorization_endpoint"] else "?") + urllib.parse.urlencode(query)
    try:
        threading.Thread(target=open_url, args=(url,), daemon=True).start()
        answer = _wait_for_code(server, handler, timeout)
    finally:
        server.server_close()
    if answer.get("state") != state:
        raise InputError("the sign-in answer does not belong to this login (state mismatch).", source="login",
                         hint="Run login again.")
    if "code" not in answer:
        raise InputError(f"the identity provider refused the sign-in: {answer.get('error', 'no code')}.", source="login")
    tokens = _json(meta["token_endpoint"], {"grant_type": "authorization_code", "code": answer["code"],
                                            "redirect_uri": redirect, "client_id": client.client_id,
                                            "code_verifier": verifier}, (client.client_id, client.client_secret))
    if not tokens.get("id_token"):
        raise InputError("the identity provider returned no ID token.", source="login")
    claims = _verify(tokens["id_token"], client, meta)
    if claims.get("nonce") != nonce:
        raise InputError("the ID token does not belong to this login (nonce mismatch).", source="login")
    _save(tokens["id_token"], meta["issuer"])
    return claims


def _verify(id_token: str, client: OidcClient, meta: dict[str, Any]) -> dict[str, Any]:
    """The token's claims after checking its signature (the issuer's keys), issuer, audience and expiry."""
    from joserfc import jwt
    from joserfc.errors import JoseError
    from joserfc.jwk import KeySet

    try:
        keys = KeySet.import_key_set(_json(meta["jwks_uri"]))  # type: ignore[arg-type]
        token = jwt.decode(id_token, keys)
        jwt.JWTClaimsRegistry(iss={"essential": True, "value": meta["issuer"]},
                              aud={"essential": True, "value": client.client_id},
                              exp={"essential": True}).validate(token.claims)
    except (JoseError, ValueError) as exc:
        raise InputError(f"the sign-in token is not valid ({type(exc).__name__}).", source=str(token_path()),
                         hint="Run python -m tdm1core login again.") from None
    return dict(token.claims)


def _save(id_token: str, issuer: str) -> None:
    path = token_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    partial = path.with_name(".token.json.partial")
    fd = os.open(partial, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"id_token": id_token, "issuer": issuer}, fh)
    os.replace(partial, path)


def signed_in_claims(client: OidcClient) -> dict[str, Any]:
    """The claims of the saved token, verified now; refused (with what to do) when missing, expired or not valid."""
    path = token_path()
    if not path.is_file():
        raise InputError("not signed in on the command line; a shared database needs a signed-in user.", source="login",
                         hint="Run python -m tdm1core login (the app's identity provider, in a browser).")
    if path.stat().st_mode & 0o077:
        raise InputError(f"{path} can be read by other users; it is not used.", source=str(path),
                         hint="Delete it (python -m tdm1core logout) and sign in again.")
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        id_token = str(saved["id_token"])
    except (ValueError, KeyError, TypeError):
        raise InputError("the saved sign-in is damaged.", source=str(path), hint="Run python -m tdm1core login again.") from None
    return _verify(id_token, client, _metadata(client))


def logout() -> bool:
    """Delete the saved token; True when there was one."""
    path = token_path()
    if path.exists():
        path.unlink()
        return True
    return False
