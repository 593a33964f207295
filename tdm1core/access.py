"""Who may reach the app: single-user local mode serves this machine only.

This version has no sign-in. Patient data is therefore served only to loopback (127.0.0.0/8, ::1); listening on
any other address would hand every stored patient to whoever reaches the port, so the app refuses to serve.
"""
from __future__ import annotations

import ipaddress

__all__ = ["is_loopback", "serving_refusal"]


def is_loopback(address: str | None) -> bool:
    """True for 127.0.0.0/8, ::1 and 'localhost'; False for '' (every interface) and any other address."""
    text = (address or "").strip().strip("[]")
    if text.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(text).is_loopback
    except ValueError:
        return False


def serving_refusal(address: str | None) -> str | None:
    """The message shown instead of any patient data when the server listens beyond loopback, else None."""
    if is_loopback(address):
        return None
    where = f"'{address}'" if address else "every network interface"
    return (f"This server listens on {where}, but this version has no sign-in, so it serves no patient data there. "
            "Run it in single-user local mode (server.address = \"127.0.0.1\", the default in .streamlit/config.toml), "
            "or put an authenticating reverse proxy of your hospital in front of a server that listens on 127.0.0.1.")
