"""The one exception family for bad input.

::

    InputError (ValueError)
     ├── DdpcrFormatError   a ddPCR export that cannot be read
     │    └── DropletFormatError  a per-droplet amplitude file or plate (folder, zip) that cannot be read
     ├── TargetMapError     targets that cannot be mapped to the study's assays
     ├── CohortFormatError  a patient table with errors (all of them, at once)
     ├── FhirFormatError    FHIR input that cannot be read (not JSON, truncated, not a resource)
     └── SettingsError      a setting out of range

Every error says what is wrong, where (file, row, column) and how to fix it.
A page shows ``str(error)``; it never shows a traceback.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "InputError",
    "DdpcrFormatError",
    "TargetMapError",
    "DropletFormatError",
    "CohortFormatError",
    "FhirFormatError",
    "SettingsError",
    "Problem",
]


@dataclass(frozen=True)
class Problem:
    """One located problem in an input (used when several are reported at once)."""

    message: str
    row: int | None = None
    column: str | None = None
    value: str | None = None

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        prefix = ", ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message


class InputError(ValueError):
    """Bad input: the message says what, where and how to fix it."""

    kind = "input"

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        row: int | None = None,
        column: str | None = None,
        value: object = None,
        hint: str | None = None,
        problems: list[Problem] | tuple[Problem, ...] = (),
    ) -> None:
        self.message = message
        self.source = source
        self.row = row
        self.column = column
        self.value = value
        self.hint = hint
        self.problems = tuple(problems)
        super().__init__(self._render())

    def _render(self) -> str:
        where = []
        if self.source:
            where.append(f"{self.kind} '{self.source}'")
        else:
            where.append(self.kind)
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        text = ", ".join(where) + ": " + self.message
        if self.problems:
            text += "".join(f"\n  - {p}" for p in self.problems)
        if self.hint:
            text += ("\n" if self.problems else " ") + self.hint
        return text


class DdpcrFormatError(InputError):
    kind = "ddPCR export"


class TargetMapError(DdpcrFormatError):
    kind = "ddPCR export"


class DropletFormatError(DdpcrFormatError):
    kind = "droplet file"


class CohortFormatError(InputError):
    kind = "patient table"


class FhirFormatError(InputError):
    kind = "FHIR input"


class SettingsError(InputError):
    kind = "settings"
