"""Load through the proxy with Streamlit's own protocol (issue 28): sessions that speak to `/_stcore/stream` as the
browser's frontend does, so the load generator costs a few percent of a core and the latencies are the servers'.

A session here is what a person's tab sends and receives, without drawing it: it fetches the app (the XSRF and
affinity cookies), opens the WebSocket (subprotocols "streamlit" and the XSRF token), runs pages by their script
hash with the widget values it holds (all of them, each run, as the frontend does), presses buttons (trigger
values), uploads files (``file_urls_request``, then PUT to the upload URL with the XSRF header, then the uploader's
state), fetches deferred downloads (``backend_operation_request`` → the media URL) and signs in through `st.login`
(the Sign-in button's ``auth_redirect``, the provider's form, the callback's cookie, then a new WebSocket). An
interaction is timed from the message sent to the run's ``script_finished`` (and, for a download, the bytes); a run
that shows an exception or an error box counts as an error.

The mix and the counts are `bench_proxy_load.py`'s (clinicians upload an export, download the PDF and save;
researchers open the Cohort page and switch sections, then Survival; a lab scientist reads a zipped plate and
reclassifies it); the stack is `deploy/stack.py` (PostgreSQL, 2 instances, HAProxy with TLS and affinity, the mock
identity provider). Lost writes: saves the database does not hold (target 0).

    python bench/bench_ws_load.py [--sessions 8 32 64] [--iterations 2]
"""
from __future__ import annotations

import argparse
import asyncio
import re
import ssl
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urljoin, urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "deploy"))
sys.path.insert(0, str(ROOT / "bench"))

from bench_proxy_load import Recorder, _role_of, measured, run_levels  # noqa: E402
from builders import qs17, sample_wells  # noqa: E402


class RunFailed(Exception):
    pass


SIGN_IN_PHASES = ("open the app", "press Sign in (the run's redirect)", "the provider's form (via /auth/login)",
                  "authorize: provider, /oauth2callback, code exchange", "open the app signed in")
PHASES: dict[str, list[float]] = {}  # the sign-in's phases, seconds (printed after the table)
THINK = {"seconds": 0.0}  # a person's pause between interactions (reading the result): --think


async def _pause() -> None:
    if THINK["seconds"]:
        import random

        await asyncio.sleep(THINK["seconds"] * (0.5 + random.random()))  # 0.5-1.5 × the pause, so sessions drift


class Session:
    """One simulated tab: cookies, a WebSocket, the widgets the last run showed and the values this tab holds."""

    def __init__(self, base: str) -> None:
        import httpx

        self.base = base.rstrip("/")
        self.http = httpx.AsyncClient(base_url=self.base, verify=False, follow_redirects=True, timeout=120)
        self.ws = None
        self.session_id = ""
        self.pages: dict[str, str] = {}  # url path → page script hash
        self.page_hash = ""
        self.widgets: dict[str, tuple[str, object]] = {}  # id → (kind, element message)
        self.values: dict[str, object] = {}  # id → WidgetState (held between runs)
        self.texts: list[str] = []
        self.errors: list[str] = []
        self.redirect: str | None = None
        self.responses: dict[str, object] = {}
        self.last_http = 0.0  # monotonic time of this tab's last HTTP request
        self.form = None  # the provider's sign-in form (an httpx response) while signing in

    # ------------------------------------------------------------------ connection
    async def connect(self) -> None:
        import websockets

        if self.ws is not None:
            await self.ws.close()
        await self._http("GET", "/")
        await self._http("GET", "/_stcore/health")  # as the frontend does first: it sets the XSRF cookie
        xsrf = self.http.cookies.get("_streamlit_xsrf") or self.http.cookies.get("_xsrf") or ""
        cookies = "; ".join(f"{c.name}={c.value}" for c in self.http.cookies.jar)
        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        url = self.base.replace("https://", "wss://").replace("http://", "ws://") + "/_stcore/stream"
        self.ws = await websockets.connect(url, subprotocols=["streamlit", xsrf] if xsrf else ["streamlit"],
                                           additional_headers={"Cookie": cookies, "Origin": self.base},
                                           ssl=ctx if url.startswith("wss") else None, max_size=None,
                                           open_timeout=60, ping_interval=None)
        self.values.clear()
        await self.run()

    async def _http(self, method: str, url: str, **kw: object):
        """One HTTP request of this tab; a broken connection is an error that says which request and how long the
        tab's connection had been idle (a keep-alive closed by the proxy shows as a long idle time)."""
        import httpx

        idle = time.monotonic() - self.last_http if self.last_http else 0.0
        try:
            return await self.http.request(method, url, **kw)  # type: ignore[arg-type]
        except httpx.TransportError as exc:
            raise RunFailed(f"{method} {urlparse(url).path[:40]}: {type(exc).__name__} {exc!s:.80} (idle {idle:.0f} s "
                            "before it)") from exc
        finally:
            self.last_http = time.monotonic()

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        await self.http.aclose()

    # ------------------------------------------------------------------ runs
    def _state(self, trigger: str | None = None, extra: object = None):
        from streamlit.proto.WidgetStates_pb2 import WidgetStates

        states = WidgetStates()
        for wid, value in self.values.items():
            states.widgets.add().CopyFrom(value)
        if trigger is not None:
            w = states.widgets.add()
            w.id, w.trigger_value = trigger, True
        return states

    async def run(self, path: str | None = None, trigger: str | None = None, timeout: float = 120) -> None:
        """Run the page at ``path`` (or the current one) with the held values (and a button pressed); wait for the
        run to finish; the widgets and text it showed replace the previous run's."""
        from streamlit.proto.BackMsg_pb2 import BackMsg

        if path is not None:
            self.page_hash = self.pages.get(path, "")
        msg = BackMsg()
        cs = msg.rerun_script
        cs.query_string = ""
        cs.page_script_hash = self.page_hash
        cs.widget_states.CopyFrom(self._state(trigger))
        cs.context_info.url = self.base + (path or "")
        cs.context_info.timezone = "UTC"
        await self.ws.send(msg.SerializeToString())
        await self._until_finished(timeout)

    async def _until_finished(self, timeout: float) -> None:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        self.widgets, self.texts, self.errors, self.redirect = {}, [], [], None
        deadline = time.perf_counter() + timeout
        while True:
            left = deadline - time.perf_counter()
            if left <= 0:
                raise RunFailed("the run did not finish in time")
            raw = await asyncio.wait_for(self.ws.recv(), left)
            fm = ForwardMsg()
            fm.ParseFromString(raw)
            kind = fm.WhichOneof("type")
            if kind == "new_session":
                self.session_id = fm.new_session.initialize.session_id or self.session_id
                self._pages(fm.new_session.app_pages)
            elif kind == "navigation":
                self._pages(fm.navigation.app_pages)
                self.page_hash = fm.navigation.page_script_hash or self.page_hash
            elif kind == "delta" and fm.delta.WhichOneof("type") == "new_element":
                self._element(fm.delta.new_element)
            elif kind == "auth_redirect":
                self.redirect = fm.auth_redirect.url
            elif kind == "file_urls_response":
                self.responses[fm.file_urls_response.response_id] = fm.file_urls_response
            elif kind == "backend_operation_response":
                self.responses[fm.backend_operation_response.request_id] = fm.backend_operation_response
            elif kind == "script_finished":
                if fm.script_finished in (ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_EARLY_FOR_RERUN,
                                          ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY):
                    if fm.script_finished == ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                        self.widgets, self.texts, self.errors = {}, [], []
                        continue  # a rerun follows (st.rerun, st.switch_page)
                    return
                return
            elif kind == "page_not_found":
                raise RunFailed("page not found")

    def _pages(self, pages) -> None:
        for p in pages:
            self.pages["/" + p.url_pathname] = p.page_script_hash

    def _element(self, el) -> None:
        kind = el.WhichOneof("type")
        body = getattr(el, kind)
        if kind in ("markdown", "alert", "text", "heading", "metric"):
            self.texts.append(getattr(body, "body", "") or getattr(body, "label", "") or "")
        if kind == "exception" or (kind == "alert" and body.format == body.ERROR):
            self.errors.append(getattr(body, "message", "") or getattr(body, "body", ""))
        if hasattr(body, "id") and body.id:
            self.widgets[body.id] = (kind, body)

    # ------------------------------------------------------------------ interactions
    def widget(self, kind: str, key: str | None = None, label: str | None = None):
        for wid, (k, body) in self.widgets.items():
            if k == kind and ((key and wid.endswith("-" + key)) or (label and getattr(body, "label", "") == label)):
                return wid, body
        raise RunFailed(f"no {kind} {key or label!r} on the page (shown: "
                        f"{sorted((k, getattr(b, 'label', '')) for k, b in self.widgets.values())[:12]})")

    def shows(self, words: str) -> bool:
        """The run showed ``words`` (Markdown's escapes dropped, as a person reads it)."""
        return any(words in re.sub(r"\\(.)", r"\1", t).replace("\u200b", "") for t in self.texts)

    def check(self, words: str | None = None) -> None:
        if self.errors:
            raise RunFailed(f"the page showed an error: {self.errors[0][:200]}")
        if words and not self.shows(words):
            raise RunFailed(f"{words!r} not shown")

    async def press(self, key: str | None = None, label: str | None = None, wanted: str | None = None) -> None:
        wid, _ = self.widget("button", key, label)
        await self.run(trigger=wid)
        self.check(wanted)

    async def choose(self, key: str, option: str, wanted: str | None = None) -> None:
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        wid, body = self.widget("radio", key)
        if option not in body.options:
            raise RunFailed(f"{option!r} is not an option of {key}")
        w = WidgetState(id=wid)
        w.string_value = option  # a radio's value is its option's label (Streamlit 1.5x+)
        self.values[wid] = w
        await self.run()
        self.check(wanted)

    async def upload(self, key: str | None, name: str, data: bytes, mime: str, wanted: str | None = None,
                     first: bool = False) -> None:
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        if first:
            wid = next(w for w, (k, _) in self.widgets.items() if k == "file_uploader")
        else:
            wid, _ = self.widget("file_uploader", key)
        req = BackMsg()
        rid = uuid.uuid4().hex
        req.file_urls_request.request_id = rid
        req.file_urls_request.session_id = self.session_id
        req.file_urls_request.file_names.append(name)
        await self.ws.send(req.SerializeToString())
        urls = await self._response(rid)
        if urls.error_msg:
            raise RunFailed(urls.error_msg)
        info = urls.file_urls[0]
        r = await self._http("PUT", urljoin(self.base + "/", info.upload_url.lstrip("/")),
                                files={"file": (name, data, mime)},
                                headers={"X-Xsrftoken": self.http.cookies.get("_streamlit_xsrf") or ""})
        if r.status_code >= 300:
            raise RunFailed(f"upload refused: HTTP {r.status_code}")
        w = WidgetState(id=wid)
        f = w.file_uploader_state_value.uploaded_file_info.add()
        f.file_id, f.name, f.size = info.file_id, name, len(data)
        f.file_urls.CopyFrom(info)
        self.values[wid] = w
        await self.run()
        self.check(wanted)

    async def download(self, key: str) -> int:
        from streamlit.proto.BackMsg_pb2 import BackMsg

        wid, body = self.widget("download_button", key)
        url = body.url
        if not url and body.deferred_file_id:
            req = BackMsg()
            rid = uuid.uuid4().hex
            req.backend_operation_request.request_id = rid
            req.backend_operation_request.session_id = self.session_id
            req.backend_operation_request.deferred_file.file_id = body.deferred_file_id
            await self.ws.send(req.SerializeToString())
            resp = await self._response(rid)
            if resp.error_msg:
                raise RunFailed(resp.error_msg)
            url = resp.deferred_file.url
        r = await self._http("GET", urljoin(self.base + "/", url.lstrip("/")))
        if r.status_code != 200 or not r.content:
            raise RunFailed(f"download failed: HTTP {r.status_code}")
        return len(r.content)

    async def _response(self, rid: str, timeout: float = 60):
        """Read messages until the response ``rid`` arrives (runs the server starts meanwhile are read too)."""
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        deadline = time.perf_counter() + timeout
        while rid not in self.responses:
            left = deadline - time.perf_counter()
            if left <= 0:
                raise RunFailed("no response from the server")
            fm = ForwardMsg()
            fm.ParseFromString(await asyncio.wait_for(self.ws.recv(), left))
            kind = fm.WhichOneof("type")
            if kind == "file_urls_response":
                self.responses[fm.file_urls_response.response_id] = fm.file_urls_response
            elif kind == "backend_operation_response":
                self.responses[fm.backend_operation_response.request_id] = fm.backend_operation_response
        return self.responses.pop(rid)

    # ------------------------------------------------------------------ signing in, as three waits of a person
    async def open_sign_in(self) -> None:
        """Open the app: the page, the WebSocket, the first run, which shows the Sign-in button."""
        t0 = time.perf_counter()
        await self.connect()
        _phase(SIGN_IN_PHASES[0], t0)
        self.check()
        self.widget("button", label="Sign in")  # the sign-in page is shown

    async def to_provider(self) -> None:
        """Press Sign in: the run answers with the redirect to /auth/login, which sends the browser on to the
        provider's form."""
        t0 = time.perf_counter()
        await self.press(label="Sign in")
        t1 = _phase(SIGN_IN_PHASES[1], t0)
        if not self.redirect:
            raise RunFailed("Sign in did not redirect to the provider")
        self.form = await self._http("GET", urljoin(self.base + "/", self.redirect))
        _phase(SIGN_IN_PHASES[2], t1)
        if "<form" not in self.form.text:
            raise RunFailed("the provider showed no sign-in form")

    async def authorize(self, sub: str) -> None:
        """Authorize on the provider's form as ``sub``: the provider, /oauth2callback (the code exchanged, the
        identity cookie set), then the app again on a new WebSocket that carries the cookie, signed in."""
        t0 = time.perf_counter()
        action = str(self.form.url)
        m = re.search(r'<form[^>]*action="([^"]*)"', self.form.text)
        if m and m.group(1):
            action = urljoin(action, m.group(1).replace("&amp;", "&"))
        done = await self._http("POST", action, data={"sub": sub})
        t1 = _phase(SIGN_IN_PHASES[3], t0)
        if urlparse(str(done.url)).netloc != urlparse(self.base).netloc:
            raise RunFailed(f"the sign-in ended at {done.url}")
        await self.connect()
        _phase(SIGN_IN_PHASES[4], t1)
        self.check("Signed in:")


def _phase(name: str, since: float) -> float:
    now = time.perf_counter()
    PHASES.setdefault(name, []).append(now - since)
    return now


SIGN_IN_TOTAL = "Sign in: the three waits together"


async def sign_in(s: Session, sub: str, rec: Recorder) -> bool:
    """A person's sign-in: three interactions, each timed on its own (with a pause before each, as the rest); their
    sum (the pauses not counted) is reported too, as the sign-in's whole wait."""
    waits: list[float] = []

    async def timed(coro) -> None:
        t0 = time.perf_counter()
        await coro
        waits.append(time.perf_counter() - t0)

    for name, step in (("Sign in: open the app", s.open_sign_in), ("Sign in: press Sign in, the provider's form",
                       s.to_provider), ("Sign in: authorize, the app signed in", lambda: s.authorize(sub))):
        if not await rec.step(name, timed(step())):
            return False
    rec.times[SIGN_IN_TOTAL].append(sum(waits))
    return True


# ---------------------------------------------------------------------- the roles' work (as bench_proxy_load's)

async def clinician(s: Session, me: int, it: int, rec: Recorder, saved: list[str]) -> None:
    await rec.step("Patient page: open", _open(s, "/patient-result", None, "patient_upload"))
    name = f"load-{me:03d}-{it}.csv"
    sample = f"LD{me:03d}x{it}"
    if not await rec.step("Patient page: upload an export, calls shown",
                          s.upload("patient_upload", name, qs17(sample_wells(sample, her2=900 + me % 97)), "text/csv",
                                   "Why:")):
        return
    await rec.step("Patient page: download the PDF", s.download("patient_pdf"))
    if await rec.step("Patient page: save the result", s.press("patient_save", wanted=f"Stored '{name}'")):
        saved.append(name)


async def researcher(s: Session, me: int, it: int, rec: Recorder, saved: list[str]) -> None:
    await rec.step("Cohort page: open", _open(s, "/cohort-statistics", "patients shown"))
    await rec.step("Cohort page: switch section", s.choose("cohort_section", "Best response"))
    await rec.step("Cohort page: switch section", s.choose("cohort_section", "Flag performance"))
    await rec.step("Survival page: open", _open(s, "/survival-analysis", "Kaplan-Meier"))


async def lab(s: Session, me: int, it: int, rec: Recorder, saved: list[str], plate: bytes = b"") -> None:
    await rec.step("Droplets page: open", _open(s, "/droplet-review", None, "droplet_method"))
    if not await rec.step("Droplets page: read a plate, calls shown",
                          s.upload(None, "Load.zip", plate, "application/zip", "Calls from these droplets", first=True)):
        return
    await rec.step("Droplets page: automatic thresholds",
                   s.choose("droplet_method", "Automatic thresholds", "automatic thresholds (negative-cluster fence"))


async def _open(s: Session, path: str, wanted: str | None, widget_key: str | None = None) -> None:
    await s.run(path)
    s.check(wanted)
    if widget_key and not any(w.endswith("-" + widget_key) for w in s.widgets):
        raise RunFailed(f"the page shows no {widget_key}")


WORK = {"clinician": clinician, "researcher": researcher, "lab": lab}


async def run_level(state: dict, n: int, iterations: int, plate: bytes, level: int) -> dict:
    url = state["proxy"]
    rec, saved = Recorder(), []
    sessions: list[Session] = []

    async def one(i: int) -> None:
        role, _, _ = _role_of(i)
        s = Session(url)
        sessions.append(s)
        if not await sign_in(s, f"load{level}-{i}", rec):
            return
        for it in range(iterations):
            if role == "lab":
                await lab(s, i, it, rec, saved, plate)
            else:
                await WORK[role](s, i + 1000 * level, it, rec, saved)

    real_step = rec.step

    async def step_after_a_pause(name: str, coro) -> bool:  # the pause is not timed: only the interaction is
        await _pause()
        return await real_step(name, coro)

    rec.step = step_after_a_pause  # type: ignore[method-assign]

    def own() -> float:
        import resource

        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    async def close() -> None:
        for s in sessions:
            try:
                await s.close()
            except Exception:  # noqa: BLE001
                pass

    usage = await measured(state, n, asyncio.gather(*(one(i) for i in range(n))), close, own)
    return {"sessions": n, "times": rec.times, "errors": dict(rec.errors), "saved": saved, "why": rec.why, **usage}


def _sign_in_phases() -> None:
    import statistics

    for name in SIGN_IN_PHASES:
        xs = sorted(PHASES.get(name, []))
        if xs:
            print(f"  sign-in phase {name}: median {statistics.median(xs):.2f} s, max {xs[-1]:.2f} s (all levels)")


async def main_async(levels: list[int], iterations: int, folder: Path) -> None:
    await run_levels(folder, levels, lambda state, n, plate: run_level(state, n, iterations, plate, n), _sign_in_phases)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, nargs="+", default=[8, 32, 64])
    ap.add_argument("--iterations", type=int, default=2)
    ap.add_argument("--think", type=float, default=0.0,
                    help="a person's pause before each interaction, seconds (0: back to back, a stress test)")
    args = ap.parse_args()
    THINK["seconds"] = args.think
    folder = Path(tempfile.mkdtemp(prefix="tdm1wsload-"))
    print(f"machine: 2 app instances behind HAProxy on this machine; {args.iterations} rounds per session; "
          "sessions speak Streamlit's WebSocket protocol (no browser); "
          + (f"a pause of {args.think:g} s (0.5-1.5 ×) before each interaction" if args.think else
             "interactions back to back (no pause: a stress test)"))
    asyncio.run(main_async(args.sessions, args.iterations, folder))


if __name__ == "__main__":
    main()
