"""The Streamlit internals the pages rely on (each use is commented in pages/_common.py): this fails when Streamlit
renames or removes one, before a user would see a download built from a stale form.

Checked in a child process: importing Streamlit's server runtime into the test process leaves it in a state in
which later tests' spawned worker pools hang."""
import subprocess
import sys

CHECK = r'''
import dataclasses, inspect
from streamlit.runtime import Runtime
from streamlit.runtime.app_session import AppSession
from streamlit.runtime.session_manager import SessionManager
from streamlit.runtime.scriptrunner import get_script_run_ctx
from streamlit.runtime.scriptrunner_utils.script_run_context import ScriptRunContext

assert "self._session_mgr" in inspect.getsource(Runtime.__init__), "Runtime._session_mgr"
assert callable(getattr(SessionManager, "get_session_info", None)), "SessionManager.get_session_info"
assert "self._scriptrunner" in inspect.getsource(AppSession.__init__), "AppSession._scriptrunner"
assert callable(get_script_run_ctx) and "session_id" in {f.name for f in dataclasses.fields(ScriptRunContext)}
print("ok")
'''


def test_the_runtime_keeps_its_session_manager_and_sessions_their_script_runner():
    p = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and p.stdout.strip() == "ok", p.stderr[-2000:]
