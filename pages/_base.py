"""The two helpers every page module needs, in a module that imports no other page module (so _common and _signin
never import each other): the database of this server, and user-derived text as literal Markdown."""
from __future__ import annotations

import re

import streamlit as st

from tdm1core.storage.store import Store, database_url
from tdm1core.app.workflows import open_store


@st.cache_resource(show_spinner="Opening the database…")
def _open_store(url: str) -> Store:
    """The database connection pool (not patient data): created, migrated and seeded with the demo on first use."""
    return open_store(url)


def store() -> Store:
    return _open_store(database_url())


_MD_SPECIAL = set("\\`*_{}[]()#+-.!|<>~$:=\"'&@^%")


def md(text: object) -> str:
    """User-derived text (file, sample and target names, patient IDs, cell values quoted in errors) as literal
    Markdown: every special character is escaped, so no link, image, HTML or colour directive can render."""
    raw = str(text)
    # GitHub-flavoured autolinks fire on bare URLs even when escaped: a zero-width space after "://" and "www"
    # keeps them text (it does not show)
    raw = re.sub(r"(?i)(:)(//)", "\\1\u200b\\2", raw)
    raw = re.sub(r"(?i)\b(www)(\.)", "\\1\u200b\\2", raw)
    raw = re.sub(r"(?i)(@)", "\\1\u200b", raw)
    out = "".join("\\" + ch if ch in _MD_SPECIAL else ch for ch in raw)
    return out.replace("\n", "  \n")
