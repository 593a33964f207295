"""JSON that is valid JSON: NaN and infinities (which Python would write as bare NaN/Infinity) become null.
One definition for the command line, the store and the downloads (no pandas import)."""
from __future__ import annotations

import math
from typing import Any

__all__ = ["json_safe"]


def json_safe(obj: Any) -> Any:
    """``obj`` with NaN and infinities as None (JSON has neither), dict keys as text, tuples as lists."""
    if isinstance(obj, float):
        return None if math.isnan(obj) or math.isinf(obj) else obj
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj
