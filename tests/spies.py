"""Counting how often the code under test calls a function (to show that stored results are read, not recomputed)."""


def count_calls(monkeypatch, module, name: str) -> list:
    """Replace ``module.name`` by a wrapper that appends 1 to the returned list on every call, then calls the real one."""
    calls: list = []
    real = getattr(module, name)

    def counting(*a, **k):
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(module, name, counting)
    return calls
