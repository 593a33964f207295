"""The one home of the stored cohort's derived results (tdm1core.app.cohort_service): computed once per state of the
data, bounded, and never read before the user's role is checked."""
import pytest

import tdm1core.app.cohort_service as service
import tdm1core.app.workflows as wf
from builders import qs17, sample_wells
from tdm1core.settings import DEFAULT_SETTINGS, Settings
from tdm1core.storage import access
from tdm1core.storage.access import AccessDenied, User


def _user(*roles):
    return User(subject="u", email="u@x.example", name="u", roles=frozenset(roles), mode="signed-in", session="s",
                roles_source="claim")


@pytest.fixture
def store(tmp_path, monkeypatch):
    service.clear()
    calls = []
    real = wf.cohort_view
    monkeypatch.setattr(service, "cohort_view", lambda *a, **k: calls.append(a[1]) or real(*a, **k))
    s = wf.open_store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    s.computed = calls
    yield s
    service.clear()


def test_the_cohort_is_computed_once_per_state_of_the_data(store):
    first = service.stored_cohort(store, DEFAULT_SETTINGS, "me")
    again = service.stored_cohort(store, DEFAULT_SETTINGS, "me")
    assert again is first and len(store.computed) == 1
    wf.import_exports(store, [(qs17(sample_wells("NEW9")), "n.csv")], DEFAULT_SETTINGS, "me")  # a write moves the state
    assert service.stored_cohort(store, DEFAULT_SETTINGS, "me") is not first and len(store.computed) == 2


def test_statistics_follow_the_settings_and_the_filters(store):
    view, stats = service.cohort_statistics_view(store, DEFAULT_SETTINGS, {})
    assert view.n == 34 and stats.km.ci_method == "log-log"
    plain = Settings(km_ci_method="plain")
    _, other = service.cohort_statistics_view(store, plain, {})
    assert other.km.ci_method == "plain"
    sub, _ = service.cohort_statistics_view(store, DEFAULT_SETTINGS, {"stage": ["recurrent"]})
    assert 0 < sub.n < 34


def test_the_cache_is_bounded(store):
    ages = sorted({int(a) for a in service.stored_cohort(store, DEFAULT_SETTINGS, "me")[0].patients["age"]})
    for a in ages[: service.KEEP["statistics"] + 3]:
        service.cohort_statistics_view(store, DEFAULT_SETTINGS, {"age": [a]})
    kinds = [k[0] for k in service._CACHE._items]
    assert kinds.count("statistics") == service.KEEP["statistics"] and kinds.count("cohort") <= service.KEEP["cohort"]


def test_a_cached_result_is_never_read_without_the_role(store):
    access.require_signed_in(True)
    try:
        service.survival(store, DEFAULT_SETTINGS, "flag", (), _user("researcher"))
        with pytest.raises(AccessDenied):
            service.survival(store, DEFAULT_SETTINGS, "flag", (), _user("clinician"))
        with pytest.raises(AccessDenied):
            service.cohort_statistics_view(store, DEFAULT_SETTINGS, {}, (), _user())
        assert service.stored_cohort(store, DEFAULT_SETTINGS, _user("clinician"), access.Action.REFERENCE_COHORT)[0].n == 34
    finally:
        access.require_signed_in(False)
