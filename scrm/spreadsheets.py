"""Cells of the CSV and XLSX files Siyu exports (contacts, campaign recipients, Moments rankings)."""

from __future__ import annotations

from typing import Any

# A cell starting with one of these is a formula to Excel and LibreOffice (=HYPERLINK(...) in a
# customer's name would run when the file is opened): such cells get a leading apostrophe, which
# spreadsheets show as text and do not evaluate (OWASP's CSV injection advice).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell_safe(value: Any) -> Any:
    """``value`` as a spreadsheet shows it, never run as a formula; anything but text passes unchanged."""
    return f"'{value}" if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def csv_cell(value: Any) -> str:
    """A CSV cell: ``value`` as text ("" for None), never run as a formula."""
    return cell_safe("" if value is None else str(value))
