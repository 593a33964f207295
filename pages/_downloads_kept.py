"""A workaround of a Streamlit 1.67 race that loses deferred downloads under load (found by bench/bench_ws_load.py).

A download button whose data is a callable (every PDF and table here: built when clicked, from exactly what the
page shows) works in two steps: the click asks the server to run the callable, which stores the bytes as a media
file and answers with its URL; the browser then fetches that URL. Streamlit stores that file mapped to no session,
so its orphan cleanup, which runs after every script run of *any* session, marks it at the first run and deletes it
at the second. With one user that is harmless (the fetch comes first); with 32 sessions on two instances, runs end
several times a second, and 6 to 30 % of the PDFs fetched answered 404 in the load test.

The fix keeps each file a deferred download generated for :data:`KEEP_SECONDS` before the cleanup may take it (a PDF
is 100 kB, so 32 sessions' downloads are a few MB at most). It wraps two methods of Streamlit's
``MediaFileManager`` once per process; ``tests/pages/test_streamlit_internals.py`` checks the race and the fix, so a
Streamlit release that renames these methods or fixes the race shows there first.
"""
from __future__ import annotations

import threading
import time
from typing import Any

KEEP_SECONDS = 120.0
_APPLIED = threading.Lock()


def keep_generated_downloads() -> None:
    """Apply the workaround (idempotent, thread-safe)."""
    from streamlit.runtime.media_file_manager import MediaFileManager

    with _APPLIED:
        if getattr(MediaFileManager, "_tdm1_keeps_downloads", False):
            return
        execute, inactive = MediaFileManager.execute_deferred, MediaFileManager._get_inactive_file_ids
        made: dict[str, float] = {}
        lock = threading.Lock()

        def execute_deferred(self: Any, file_id: str) -> str:
            before = set(self._file_metadata)
            url = execute(self, file_id)
            now = time.monotonic()
            with lock:
                for new in set(self._file_metadata) - before:
                    made[new] = now
            return url

        def get_inactive_file_ids(self: Any) -> set[str]:
            now = time.monotonic()
            with lock:
                for fid in [f for f, t in made.items() if now - t > KEEP_SECONDS]:
                    del made[fid]
                recent = set(made)
            return inactive(self) - recent

        MediaFileManager.execute_deferred = execute_deferred
        MediaFileManager._get_inactive_file_ids = get_inactive_file_ids
        MediaFileManager._tdm1_keeps_downloads = True
