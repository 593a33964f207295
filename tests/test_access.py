"""Who may do what: every use case called by every role; roles from the token or the roles table; the app's own
session limits; the append-only audit log; the serving modes and the sign-in configuration; the command line's user."""
from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa

from builders import qs17, sample_wells
import tdm1core.storage.access as access
from tdm1core.storage.access import AccessDenied, SessionLimits, User
from tdm1core.demo import DEMO_DIR, demo_export_path
from tdm1core.settings import Settings
from tdm1core.reading.thresholds import DropletThresholds
import tdm1core.app.workflows as wf
# The issue's table, written out here independently of tdm1core.storage.access.PERMISSIONS:
# clinician: patient result, save, patient PDF; researcher: cohort, survival, imports, cohort PDF and exports;
# admin: default settings, demo removal, deletions, the roles table, the audit log. Droplet review belongs to the
# patient result (clinicians) and to the lab's classification defaults (admins); the study cohort shown beside a
# patient is seen by clinicians and researchers.
ALLOWED = {
    "patient_result": {"clinician", "reviewer"}, "save_result": {"clinician"}, "link_sample": {"clinician"},
    "patient_report_pdf": {"clinician", "reviewer"}, "assess_droplets": {"clinician", "admin"},
    "reference_cohort": {"clinician", "researcher", "reviewer"}, "cohort_counts": {"clinician", "researcher", "reviewer"},
    "cohort_view": {"researcher"}, "stored_patients": {"researcher"}, "cohort_statistics_json": {"researcher"},
    "preview_patients": {"researcher"}, "import_patients": {"researcher"},
    "preview_fhir": {"researcher"}, "import_fhir": {"researcher"}, "import_exports": {"researcher"},
    "cohort_report_pdf": {"researcher"},
    "apply_settings": {"admin"}, "save_default_thresholds": {"admin"}, "remove_demo": {"admin"},
    "delete_patient": {"admin"}, "delete_file": {"admin"}, "set_user_roles": {"admin"}, "read_audit_log": {"admin"},
    "stored_files": {"admin"},
    # released reports (issue 16): a reviewer's or an admin's release; the history for clinicians, reviewers, admins
    "release_result": {"reviewer"}, "released_reports": {"clinician", "admin", "reviewer"},
    # issue 23/24: every use case checks the acting user first
    "assess_upload": {"clinician", "reviewer"}, "assess_manual": {"clinician", "reviewer"},
    "ensure_calls": {"researcher"}, "cutoff_profiles": {"clinician", "researcher", "admin", "reviewer"},
    "released_pdf": {"clinician", "admin", "reviewer"},
    "validate_limits": {"clinician", "admin"}, "save_profile": {"admin"},
    # issue 24: what the command line needs is a use case too
    "cohort_statistics": {"researcher"}, "database_status": {"admin"}, "export_database": {"admin"},
    "roles_table": {"admin"}, "demo_removal_plan": {"admin"},
    "classify_droplets": {"clinician", "admin"}, "well_table": {"clinician", "admin"},
    "km_from_csv": {"researcher"}, "file_cohort": {"researcher"},
    # issue 24: the cohort service (the one cache of derived results) checks the role before every read
    "stored_cohort": {"researcher"}, "cohort_statistics_view": {"researcher"}, "survival": {"researcher"},
    "reference_context": {"clinician", "researcher", "reviewer"}, "review_plate": {"clinician", "admin"},
    "released_download": {"clinician", "admin", "reviewer"},
    "target_map_preview": {"clinician", "researcher", "admin", "reviewer"},
    "read_droplet_plate": {"clinician", "admin"}, "review_read_plate": {"clinician", "admin"},
    # issue 26: serial monitoring
    "monitor_files": {"clinician", "researcher", "reviewer"}, "timeline_pdf": {"clinician", "researcher", "reviewer"},
    "monitoring_summary": {"clinician", "researcher", "reviewer"},
    "monitor_stored": {"clinician", "researcher", "reviewer"}, "import_serial_tables": {"researcher"},
    "import_demo_series": {"researcher"},
    # issue 28: backups
    "backup_database": {"admin"}, "restore_database": {"admin"},
    "patient_timeline": {"clinician", "researcher", "reviewer"},
    # issue 27: Cox models and RMST of any table
    "cox_from_csv": {"researcher"}, "rmst_from_csv": {"researcher"}, "survival_models": {"researcher"}, "survival_report_pdf": {"researcher"},
}
# use cases that take a user but check no role, and why
NO_ROLE = {
    "record_view": "records what the caller was allowed to see (the caller checked the role)",
    "set_roles_from_command_line": "set_user_roles checks the role; the first admin of a new database is the bootstrap",
    "command_line_user": "works out who the user is",
    "acting_user": "is the check itself",
    "seed_demo": "the system's own write into an empty database (audited as the demo seed)",
}


def test_every_use_case_that_takes_a_user_is_enumerated_here():
    """A new use case with a ``who``/``actor`` parameter must be listed (and so called with every role) above."""
    import inspect

    import importlib

    found = set()
    # every module of the application layer, by the name that defines the use case (the index re-exports them)
    modules = [(m, importlib.import_module(f"tdm1core.app.{m}")) for m in
               ("context", "database", "patient", "cohort", "admin", "lab", "survival_table", "cohort_service",
                "monitoring", "fhir")]
    assert {n for _, m in modules for n in m.__all__} >= set(wf.__all__) - {"__version__"}
    for _, module in modules:
        for name in module.__all__:
            if getattr(getattr(module, name), "__module__", module.__name__) != module.__name__:
                continue
            fn = getattr(module, name)
            if inspect.isfunction(fn) and {"who", "actor", "user"} & set(inspect.signature(fn).parameters):
                found.add(name)
    assert found - set(ALLOWED) - set(NO_ROLE) == set()
    assert set(ALLOWED) - found == {"reference_cohort"}  # cohort_view with purpose=REFERENCE_COHORT


def signed_in(*roles: str, email: str = "someone@hospital.example") -> User:
    return User(subject="sub-" + email, email=email, name=email, roles=frozenset(roles), mode="signed-in",
                session="s-" + email, roles_source="claim")


@pytest.fixture(autouse=True)
def signed_in_mode():
    access.require_signed_in(True)
    yield
    access.require_signed_in(False)


@pytest.fixture
def store(url):
    return wf.open_store(url)


def _calls(settings: Settings):
    return wf.assess_upload(demo_export_path().read_bytes(), demo_export_path().name, settings, signed_in("clinician"))


def _use_case(name: str, store, user: User):
    """Call the named use case as ``user`` with real inputs (each call that is allowed does its real work)."""
    s = store.saved_settings()
    a = _calls(s)
    own = wf.assess_upload(qs17(sample_wells("NEW1")), "own.csv", s, signed_in("clinician"))
    table = (DEMO_DIR / "demo_patients.csv").read_bytes()
    if name == "patient_result":
        return wf.patient_result(a.calls[0], "positive", "negative", actor=user)
    result = wf.patient_result(own.calls[0], "positive", "negative", "P01", actor=signed_in("clinician"))
    if name == "save_result":
        return wf.save_result(store, own, result, user)
    if name == "link_sample":
        return wf.link_sample(store, "P01", "NEW1", user)
    if name == "patient_report_pdf":
        return wf.patient_report_pdf(store, result, own.provenance, actor=user)
    if name == "assess_droplets":
        from builders import plate_droplet_files

        wells = sample_wells("S1")[:1]
        files = plate_droplet_files(wells, "Run1") + [(qs17(wells), "Run1_results.csv")]
        return wf.assess_droplets(files, s, DropletThresholds(), actor=user)
    if name == "reference_cohort":
        return wf.cohort_view(store, s, actor=user, purpose=access.Action.REFERENCE_COHORT)
    if name == "cohort_counts":
        return wf.cohort_counts(store, s, actor=user)
    if name == "cohort_view":
        return wf.cohort_view(store, s, actor=user)
    if name == "stored_patients":
        return wf.stored_patients(store, s, actor=user)
    if name == "cohort_statistics_json":
        return wf.cohort_statistics_json(store, s, actor=user)
    if name in ("preview_fhir", "import_fhir"):
        from fhir_builders import PSEUDONYM, Person, bundle

        files = [(bundle([Person("FA1")]), "record.json")]
        return getattr(wf, name)(store, files, s, wf.FhirOptions(PSEUDONYM), user)
    if name == "preview_patients":
        return wf.preview_patients(store, table, "t.csv", s, actor=user)
    if name == "import_patients":
        return wf.import_patients(store, table.replace(b"P01,", b"Q01,"), "t.csv", s, user)
    if name == "import_exports":
        return wf.import_exports(store, [(qs17(sample_wells("NEW2")), "new2.csv")], s, user)
    if name == "cohort_report_pdf":
        from tdm1core.reporting.report import Provenance
        from tdm1core.stats import analyse_cohort

        view = wf.cohort_view(store, s, actor=signed_in("researcher"))
        return wf.cohort_report_pdf(store, view.cohort, analyse_cohort(view.cohort, s, calls=view.calls),
                                    Provenance(view.cohort.source, view.cohort.sha256), actor=user)
    if name == "apply_settings":
        return wf.apply_settings(store, Settings(her2_ratio_cutoff=1.3), user)
    if name == "save_default_thresholds":
        return wf.save_default_thresholds(store, DropletThresholds(method="auto"), user)
    if name == "remove_demo":
        return wf.remove_demo(store, user)
    if name == "delete_patient":
        return wf.delete_patient(store, "P02", user)
    if name == "delete_file":
        return wf.delete_file(store, int(store.files_table()["id"].iloc[0]), user)
    if name == "set_user_roles":
        return wf.set_user_roles(store, "new@hospital.example", ["clinician"], user)
    if name == "read_audit_log":
        return wf.read_audit_log(store, user)
    if name == "stored_files":
        return wf.stored_files(store, user)
    if name == "release_result":
        return wf.release_result(store, result, own.provenance, reviewed=wf.release_digest(result, own.provenance), who=user)
    if name == "released_reports":
        return wf.released_reports(store, who=user)
    if name == "assess_upload":
        return wf.assess_upload(qs17(sample_wells("NEW3")), "own3.csv", s, user)
    if name == "assess_manual":
        from tdm1core.calling.calls import ManualEntry

        return wf.assess_manual(ManualEntry(her2_ratio=1.0), s, user)
    if name == "ensure_calls":
        return wf.ensure_calls(store, Settings(her2_ratio_cutoff=1.4), actor=user)
    if name == "cutoff_profiles":
        return wf.cutoff_profiles(store, user)
    return _command_line_use_case(name, store, user, s)


def _blank_export() -> bytes:
    return qs17([w for i in range(4) for w in sample_wells(f"B{i}", well0=4 * i)])


def _command_line_use_case(name: str, store, user: User, s: Settings):
    import tdm1core.app.lab as lab
    import tdm1core.app.survival_table as survival_table

    if name in ("released_pdf", "released_download"):
        mine = wf.assess_upload(qs17(sample_wells("REL1")), "rel.csv", s, signed_in("reviewer"))
        result = wf.patient_result(mine.calls[0], "positive", "negative", "P09", actor=signed_in("reviewer"))
        prov = mine.provenance
        done = wf.release_result(store, result, prov, reviewed=wf.release_digest(result, prov), who=signed_in("reviewer"))
        if name == "released_download":
            return wf.released_download(store, done, "fhir", who=user)
        return wf.released_pdf(store, done.stamp.report_id, 1, who=user)
    if name == "validate_limits":
        return wf.validate_limits([(_blank_export(), "blanks.csv")], s, actor=user)
    if name == "save_profile":
        v = wf.validate_limits([(_blank_export(), "blanks.csv")], s, actor=signed_in("admin"))
        return wf.save_profile(store, v, "Lab Y", user)
    if name == "cohort_statistics":
        view = wf.cohort_view(store, s, actor=signed_in("researcher"))
        return wf.cohort_statistics(view.cohort, s, calls=view.calls, actor=user)
    if name == "database_status":
        return wf.database_status(store, user)
    if name == "export_database":
        import tempfile

        return wf.export_database(store, tempfile.mkdtemp() + "/out", user)
    if name == "roles_table":
        return wf.roles_table(store, user)
    if name == "demo_removal_plan":
        return wf.demo_removal_plan(store, user)
    if name == "classify_droplets":
        from builders import plate_droplet_files

        wells = sample_wells("S1")[:1]
        files = plate_droplet_files(wells, "Run1") + [(qs17(wells), "Run1_results.csv")]
        return lab.classify_droplets(files, s, DropletThresholds(), actor=user)
    if name == "well_table":
        return lab.well_table(qs17(sample_wells("W1")), "w.csv", s, actor=user)
    if name == "file_cohort":
        return wf.file_cohort(None, [], s, demo=True, actor=user)
    if name == "cox_from_csv":
        return survival_table.cox_from_csv(b"t,e,x\n5,1,1\n9,0,2\n7,1,3\n", "t.csv", "t", "e", ["x"], actor=user)
    if name == "rmst_from_csv":
        return survival_table.rmst_from_csv(b"t,e\n5,1\n9,0\n", "t.csv", "t", "e", None, 5, actor=user)
    if name == "km_from_csv":
        return survival_table.km_from_csv(b"t,e\n5,1\n9,0\n", "t.csv", "t", "e", None, s, actor=user)
    if name == "patient_timeline":
        import tdm1core.app.monitoring as monitoring

        return monitoring.patient_timeline(store, s, "M01", actor=user)
    if name in ("monitor_stored", "import_serial_tables"):
        import tdm1core.app.monitoring as monitoring
        from tdm1core.demo import demo_series_paths

        paths = demo_series_paths()
        if name == "import_serial_tables":
            return monitoring.import_serial_tables(store, (paths[0].read_bytes(), paths[0].name), None, s, user)
        monitoring.import_serial_tables(store, (paths[0].read_bytes(), paths[0].name), None, s, signed_in("researcher"))
        return monitoring.monitor_stored(store, s, actor=user)
    if name in ("backup_database", "restore_database"):
        import tdm1core.app.admin as admin

        path = store.sqlite_path.with_name("backup.sqlite")
        if name == "backup_database":
            return admin.backup_database(store, str(path), user)
        admin.backup_database(store, str(path), signed_in("admin"))
        return admin.restore_database(store, str(path), True, user)
    if name == "import_demo_series":
        import tdm1core.app.monitoring as monitoring

        return monitoring.import_demo_series(store, s, user)
    if name in ("monitor_files", "timeline_pdf", "monitoring_summary"):
        import tdm1core.app.monitoring as monitoring
        from tdm1core.demo import demo_series_paths

        paths = demo_series_paths()
        args = ((paths[0].read_bytes(), paths[0].name), [(paths[1].read_bytes(), paths[1].name)], None, s)
        if name == "monitor_files":
            return monitoring.monitor_files(*args, actor=user)
        found = monitoring.monitor_files(*args, actor=signed_in("clinician"))
        if name == "monitoring_summary":
            return monitoring.monitoring_summary(found, 56, s, actor=user)
        return monitoring.timeline_pdf(found[0], None, actor=user)
    if name == "target_map_preview":
        return lab.target_map_preview(qs17(sample_wells("W1")), "w.csv", s, actor=user)
    if name in ("review_plate", "read_droplet_plate", "review_read_plate"):
        from builders import plate_droplet_files

        wells = sample_wells("S1")[:1]
        files = plate_droplet_files(wells, "Run1") + [(qs17(wells), "Run1_results.csv")]
        if name == "read_droplet_plate":
            return lab.read_droplet_plate(files, s, actor=user)
        if name == "review_read_plate":
            plate = lab.read_droplet_plate(files, s, actor=signed_in("admin"))
            return lab.review_read_plate(plate, s, DropletThresholds(), actor=user)
        return lab.review_plate(files, s, DropletThresholds(), actor=user)
    if name in ("stored_cohort", "cohort_statistics_view", "survival", "reference_context", "survival_models",
                "survival_report_pdf"):
        import tdm1core.app.cohort_service as service

        service.clear()
        args = {"stored_cohort": (), "cohort_statistics_view": ({},), "survival": ("flag",), "reference_context": (),
                "survival_models": ("flag", ("age",), "efron", 100.0),
                "survival_report_pdf": ("flag", ("age",), "efron", 100.0)}[name]
        return getattr(service, name)(store, s, *args, actor=user)
    raise AssertionError(name)


def _writes(store) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM audit_log")).scalar())


@pytest.mark.parametrize("role", ["clinician", "researcher", "admin", "reviewer", None])
@pytest.mark.parametrize("name", sorted(ALLOWED))
def test_every_use_case_with_every_role(name, role, tmp_path):
    store = wf.open_store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    user = signed_in(*([role] if role else []))
    before = _writes(store)
    if role in ALLOWED[name]:
        _use_case(name, store, user)
    else:
        with pytest.raises(AccessDenied) as err:
            _use_case(name, store, user)
        message = str(err.value)
        assert "needs the role" in message and "administrator" in message
        assert " or ".join(sorted(ALLOWED[name])) in message
        if name not in ("save_result", "link_sample", "cohort_report_pdf", "release_result", "released_pdf", "released_download",
                        "monitor_stored", "restore_database",
                        "cohort_statistics"):  # set up with another role
            assert _writes(store) == before  # a refusal stores nothing


def test_the_local_user_may_do_everything_in_local_mode_and_nothing_in_signed_in_mode(tmp_path):
    store = wf.open_store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    with pytest.raises(AccessDenied, match="signed-in mode"):
        wf.read_audit_log(store)  # no user given: the local user, refused while the process serves signed-in
    access.require_signed_in(False)
    assert len(wf.read_audit_log(store)) > 0 and wf.cohort_view(store, store.saved_settings()).cohort.n == 34


def test_roles_from_the_claim_as_a_list_or_a_string_and_else_from_the_table():
    table = {"ann@h.example": frozenset({"admin"})}.get
    assert access.roles_from_claims({"roles": ["Clinician", "nurse"]}, table=table) == (frozenset({"clinician"}), "claim")
    assert access.roles_from_claims({"roles": "researcher admin"})[0] == {"researcher", "admin"}
    assert access.roles_from_claims({"roles": "researcher,clinician"})[0] == {"researcher", "clinician"}
    assert access.roles_from_claims({"groups": "admin"}, claim="groups")[0] == {"admin"}
    # the claim present but empty is the provider's answer: the table is not consulted
    assert access.roles_from_claims({"roles": [], "email": "ann@h.example"}, table=table)[0] == frozenset()
    assert access.roles_from_claims({"email": "Ann@H.example"}, table=table) == (frozenset({"admin"}), "table")
    assert access.roles_from_claims({"email": "bob@h.example"}, table=table)[0] == frozenset()


def test_a_user_from_the_token_claims():
    claims = {"sub": "u1", "email": "ann@h.example", "name": "Ann", "roles": "clinician", "iat": 1, "iss": "x"}
    user = access.user_from_claims(claims)
    assert (user.subject, user.email, user.name, user.roles, user.mode) == ("u1", "ann@h.example", "Ann",
                                                                             {"clinician"}, "signed-in")
    again = access.user_from_claims({**claims, "iat": 2})
    assert again.session != user.session  # a new sign-in is a new app session


def test_the_roles_table_is_kept_by_admins_audited_and_validated(store):
    admin = signed_in("admin", email="root@h.example")
    assert wf.set_user_roles(store, " Ann@H.example ", ["researcher", "clinician"], admin) == ("", "clinician researcher")
    assert store.roles_for("ann@h.example") == {"clinician", "researcher"}
    assert wf.set_user_roles(store, "ann@h.example", [], admin) == ("clinician researcher", "")
    assert store.roles_for("ann@h.example") is None
    log = store.audit()
    changes = log[log["action"] == "roles change"]
    assert len(changes) == 2 and set(changes["email"]) == {"root@h.example"}
    for bad, roles in (("not an address", ["admin"]), ("a@h.example", ["superuser"])):
        with pytest.raises(Exception, match="e-mail address|unknown role"):
            wf.set_user_roles(store, bad, roles, admin)


def test_session_limits():
    limits = SessionLimits(idle_seconds=60, lifetime_seconds=3600)
    assert access.session_end_reason(0, 0, 59, limits) is None
    assert "no activity" in access.session_end_reason(0, 0, 61, limits)
    assert access.session_end_reason(0, 3500, 3550, limits) is None
    assert "lifetime" in access.session_end_reason(0, 3590, 3601, limits)
    cfg = access.access_config({"idle_timeout_minutes": 5}, {"TDM1_SESSION_LIFETIME_HOURS": "2"})
    assert cfg.limits == SessionLimits(300, 7200) and cfg.roles_claim == "roles"
    assert access.access_config(None, {}).limits == SessionLimits(30 * 60, 12 * 3600)
    with pytest.raises(Exception, match="more than 0"):
        access.access_config({"idle_timeout_minutes": 0}, {})


def test_app_sessions_end_when_idle_or_too_old_and_stay_ended(store):
    user = signed_in("clinician")
    t0 = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.timezone.utc)
    limits = SessionLimits(idle_seconds=600, lifetime_seconds=3600)
    assert store.touch_session(user, t0, t0, limits) is None
    assert store.touch_session(user, t0 + dt.timedelta(seconds=500), t0, limits) is None
    # a timer's check is not activity: it does not move the idle clock
    assert store.touch_session(user, t0 + dt.timedelta(seconds=1000), t0, limits, active=False) is None
    assert "no activity" in store.touch_session(user, t0 + dt.timedelta(seconds=1101), t0, limits, active=False)
    assert store.touch_session(user, t0 + dt.timedelta(seconds=1102), t0, limits) is not None  # stays ended
    other = signed_in("clinician", email="b@h.example")
    for minutes in range(0, 60, 9):  # active all along, still ended by the absolute lifetime
        assert store.touch_session(other, t0 + dt.timedelta(minutes=minutes), t0, limits) is None
    assert "lifetime" in store.touch_session(other, t0 + dt.timedelta(minutes=61), t0, limits)
    log = store.audit()
    assert list(log[log["action"] == "sign in"]["email"]) == ["b@h.example", "someone@hospital.example"]
    assert len(log[log["action"] == "session ended"]) == 2 and set(log[log["action"] == "sign in"]["category"]) == {"access"}


def test_sign_out_ends_the_session_for_every_tab(store):
    user = signed_in("researcher")
    now = dt.datetime.now(dt.timezone.utc)
    assert store.touch_session(user, now, now, SessionLimits()) is None
    store.end_session(user)
    assert store.touch_session(user, now, now, SessionLimits()) == "signed out"  # another tab with the same cookie
    log = store.audit()
    row = log[log["action"] == "sign out"].iloc[0]
    assert (row["email"], row["subject"], row["session"]) == (user.email, user.subject, user.session)


def test_the_audit_log_is_append_only(store):
    assert _writes(store) > 0
    with store.engine.connect() as conn:
        for statement in ("UPDATE audit_log SET who = 'someone else'", "DELETE FROM audit_log"):
            with pytest.raises(sa.exc.DBAPIError, match="append-only"):
                with conn.begin():
                    conn.execute(sa.text(statement))
    if store.engine.dialect.name == "postgresql":
        with store.engine.connect() as conn, pytest.raises(sa.exc.DBAPIError, match="append-only"):
            with conn.begin():
                conn.execute(sa.text("TRUNCATE audit_log"))
    assert "someone else" not in set(store.audit()["who"])


def test_access_entries_do_not_make_cached_views_stale(store):
    version = store.version()
    store.record_access(signed_in("clinician"), "view", "patient result: patient P01", {"sample": "P01"})
    assert store.version() == version
    store.record("note", "x", {})
    assert store.version() > version
    row = store.audit().iloc[1]
    assert (row["category"], row["action"], json.loads(row["detail"])) == ("access", "view", {"sample": "P01"})


def test_reports_are_audited_with_who_and_the_report_hash(store):
    import hashlib

    user = signed_in("clinician")
    own = wf.assess_upload(qs17(sample_wells("S9")), "own.csv", store.saved_settings(), signed_in("clinician"))
    result = wf.patient_result(own.calls[0], "positive", "negative", "P07", actor=user)
    pdf = wf.patient_report_pdf(store, result, own.provenance, actor=user)
    row = store.audit().iloc[0]
    assert (row["action"], row["entity"], row["email"]) == ("report", "patient P07", user.email)
    assert json.loads(row["detail"])["report sha256"] == hashlib.sha256(pdf).hexdigest()


def test_the_sign_in_configuration_is_checked():
    good = {"redirect_uri": "https://tdm1.h.example/oauth2callback", "cookie_secret": "f" * 64, "client_id": "c",
            "client_secret": "s", "server_metadata_url": "https://idp.h.example/.well-known/openid-configuration"}
    assert access.auth_config_problems(good) == []
    assert any("example" in p for p in access.auth_config_problems({**good, "cookie_secret": access.EXAMPLE_COOKIE_SECRET}))
    assert any("shorter" in p for p in access.auth_config_problems({**good, "cookie_secret": "abc"}))
    assert any("client_id" in p for p in access.auth_config_problems({k: v for k, v in good.items() if k != "client_id"}))
    assert any("oauth2callback" in p for p in access.auth_config_problems({**good, "redirect_uri": "https://x/"}))
    # the example file in the repository is refused as it stands
    import tomllib
    from pathlib import Path

    example = tomllib.loads((Path(__file__).resolve().parents[1] / ".streamlit" / "secrets.example.toml").read_text())
    assert access.auth_config_problems(example["auth"])
    assert access.serving_mode("127.0.0.1", "sqlite:///x", example["auth"]).mode == "refused"


@pytest.mark.parametrize("address,url,auth,mode", [
    ("127.0.0.1", "sqlite:///x.sqlite", None, "local"),
    ("0.0.0.0", "sqlite:///x.sqlite", None, "refused"),
    ("127.0.0.1", "postgresql+psycopg://u@db/tdm1", None, "refused"),
    ("0.0.0.0", "postgresql+psycopg://u@db/tdm1", "good", "signed-in"),
    ("127.0.0.1", "sqlite:///x.sqlite", "good", "signed-in"),
])
def test_the_serving_mode(address, url, auth, mode):
    good = {"redirect_uri": "https://tdm1.h.example/oauth2callback", "cookie_secret": "f" * 64, "client_id": "c",
            "client_secret": "s", "server_metadata_url": "https://idp.h.example/.well-known/openid-configuration"}
    got = access.serving_mode(address, url, good if auth else None)
    assert got.mode == mode
    if mode == "refused":
        assert "Configure sign-in" in got.refusal and "secrets.toml" in got.refusal


def test_the_command_line_on_a_shared_database_acts_with_the_roles_table(postgres_url, capsys, monkeypatch, signed_in_cli):
    """On a shared database the command line acts as the signed-in user (python -m tdm1core login): the token's
    user with the roles table's roles when the token has no roles claim."""
    from tdm1core.app.cli import main

    access.require_signed_in(False)
    wf.open_store(postgres_url)
    monkeypatch.delenv("TDM1_USER", raising=False)

    def as_user(email: str) -> None:
        for k, v in signed_in_cli(email).items():
            monkeypatch.setenv(k, v)

    as_user("ann@h.example")
    assert main(["db", "audit", "--db", postgres_url]) == 2
    assert "needs the role admin" in capsys.readouterr().err
    # the first admin of a new shared database is set by its operator; after that only an admin may change roles
    assert main(["db", "roles", "--db", postgres_url, "--email", "ann@h.example", "--set", "admin"]) == 0
    capsys.readouterr()
    assert main(["db", "audit", "--db", postgres_url, "--json"]) == 0
    assert "bootstrap first admin" in capsys.readouterr().out
    as_user("bob@h.example")
    assert main(["db", "roles", "--db", postgres_url, "--email", "bob@h.example", "--set", "admin"]) == 2
    assert "needs the role admin" in capsys.readouterr().err
    assert main(["cohort", "--db", postgres_url, "--json"]) == 2  # bob has no role
    as_user("ann@h.example")
    assert main(["db", "roles", "--db", postgres_url, "--email", "bob@h.example", "--set", "researcher"]) == 0
    as_user("bob@h.example")
    capsys.readouterr()
    assert main(["cohort", "--db", postgres_url, "--json"]) == 0 and '"n"' in capsys.readouterr().out
