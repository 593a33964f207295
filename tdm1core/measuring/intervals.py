"""Confidence intervals that carry their level and method."""
from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["ConfidenceInterval"]


@dataclass(frozen=True)
class ConfidenceInterval:
    """A two-sided interval; ``low``/``high`` are ``nan`` where undefined (R's NA)."""

    low: float
    high: float
    level: float
    method: str

    @property
    def defined(self) -> bool:
        return not (math.isnan(self.low) or math.isnan(self.high))

    def format(self, digits: int = 2) -> str:
        def f(x: float) -> str:
            if x is None or math.isnan(x):
                return "NA"
            if math.isinf(x):
                return "∞"
            return f"{x:.{digits}f}"

        return f"{f(self.low)}–{f(self.high)}"

    def to_dict(self) -> dict:
        def clean(x: float) -> float | None:
            return None if x is None or math.isnan(x) or math.isinf(x) else float(x)

        return {"low": clean(self.low), "high": clean(self.high), "level": self.level, "method": self.method}
