"""One TLS trust store per process for the sign-in's calls to the identity provider (found by bench/bench_ws_load.py).

Streamlit 1.67 builds a new OAuth client for every sign-in request (``starlette_auth_routes._create_oauth_client``):
``/auth/login`` fetches the provider's metadata, ``/oauth2callback`` fetches it again, exchanges the code and fetches
the signing keys. Each of those four is a new httpx client, and each new httpx client loads the whole CA bundle into
a new SSL context: ~27 ms of CPU on an idle core, holding the interpreter lock, so a tenth of a second per sign-in
and 7 % of an instance's CPU while 32 people signed in (py-spy).

The workaround hands httpx's default verifying context (``verify=True``, no client certificate) out once per trust
setting (``SSL_CERT_FILE``, ``SSL_CERT_DIR``, certifi's bundle) instead of building it again, as requests 2.32 does
with its preloaded default context. Verification is unchanged: the same CA bundle, hostname checking on. It is
applied only while HTTP/2 is unavailable in the process (the ``h2`` package absent): httpcore sets the context's
ALPN list on each connection, to ``["http/1.1"]`` for every HTTP/1.1 client, so shared use always sets the same value.
Any other ``verify`` (False, a path, a context of the caller's) or a client certificate gets its own context as
before. ``tests/pages/test_streamlit_internals.py`` checks the names this relies on and that the clients share it.
"""
from __future__ import annotations

import importlib.util
import os
import threading
from typing import Any

_APPLIED = threading.Lock()


def share_default_tls_context() -> bool:
    """Apply the workaround (idempotent, thread-safe); False when it does not apply (HTTP/2 available)."""
    import httpx._transports.default as transports

    with _APPLIED:
        if getattr(transports, "_tdm1_shared_tls", False):
            return True
        if importlib.util.find_spec("h2") is not None:
            return False
        build = transports.create_ssl_context
        made: dict[tuple, Any] = {}
        lock = threading.Lock()

        def create_ssl_context(verify: Any = True, cert: Any = None, trust_env: bool = True) -> Any:
            if verify is not True or cert is not None:
                return build(verify=verify, cert=cert, trust_env=trust_env)
            import certifi

            key = (trust_env, os.environ.get("SSL_CERT_FILE") if trust_env else None,
                   os.environ.get("SSL_CERT_DIR") if trust_env else None, certifi.where())
            with lock:
                if key not in made:
                    made[key] = build(verify=True, cert=None, trust_env=trust_env)
                return made[key]

        transports.create_ssl_context = create_ssl_context
        transports._tdm1_shared_tls = True
        return True
