"""Comparing nested results (dicts, lists, numbers) as a reader would: floats to a relative tolerance, all else exactly."""
import pytest


def assert_same_values(x, y, rel: float = 1e-13, where: str = "") -> None:
    """``x`` says what ``y`` says: the same keys and lengths, floats within ``rel``, everything else equal."""
    if isinstance(y, dict):
        assert isinstance(x, dict) and set(x) == set(y), (where, sorted(set(x) ^ set(y)) if isinstance(x, dict) else x)
        for k in y:
            assert_same_values(x[k], y[k], rel, f"{where}/{k}")
    elif isinstance(y, list):
        assert isinstance(x, list) and len(x) == len(y), where
        for i, (a, b) in enumerate(zip(x, y)):
            assert_same_values(a, b, rel, f"{where}[{i}]")
    elif isinstance(y, float) and not isinstance(y, bool):
        assert x == pytest.approx(y, rel=rel), where
    else:
        assert x == y, where
