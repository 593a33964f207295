"""The flag: the study's rule, with missing data never treated as negative."""
import pytest

from tdm1core.errors import InputError
from tdm1core.clinical.risk import AT_RISK, INCOMPLETE, NOT_FLAGGED, assess_risk, parse_receptor

CASES = [
    ("not amplified", "positive", "negative", AT_RISK),
    ("not amplified", "negative", "positive", AT_RISK),
    ("not amplified", "positive", "positive", AT_RISK),
    ("not amplified", "positive", "unknown", AT_RISK),
    ("not amplified", "negative", "negative", NOT_FLAGGED),
    ("amplified", "positive", "positive", NOT_FLAGGED),
    ("amplified", "negative", "negative", NOT_FLAGGED),
    ("not evaluable", "positive", "positive", INCOMPLETE),
    (None, "positive", "negative", INCOMPLETE),
    ("not amplified", "unknown", "unknown", INCOMPLETE),
    ("not amplified", "negative", "unknown", INCOMPLETE),
    ("amplified", "unknown", "unknown", INCOMPLETE),
]


@pytest.mark.parametrize("her2,er,pr,status", CASES)
def test_flag_truth_table(her2, er, pr, status):
    a = assess_risk(her2, er, pr)
    assert a.status == status
    assert "16 patients" in a.limits


def test_reasons_say_which_criteria_were_met():
    a = assess_risk("not amplified", "positive", "negative")
    assert a.headline == "At risk of primary resistance to T-DM1"
    assert a.reasons[0].startswith("Met: HER2 is not amplified")
    assert a.reasons[1].startswith("Met: hormone-receptor positive")


def test_incomplete_names_what_is_missing():
    a = assess_risk("not amplified", "unknown", "negative")
    assert a.missing == ("ER/PR status",)


@pytest.mark.parametrize("text,value", [("pos", "positive"), ("Positive", "positive"), ("+", "positive"),
                                        ("neg", "negative"), ("", "unknown"), (None, "unknown")])
def test_receptor_spellings(text, value):
    assert parse_receptor(text) == value


def test_receptor_nonsense_is_an_input_error():
    with pytest.raises(InputError):
        parse_receptor("maybe", "ER")
