"""Vietnamese conventions in what users see: Vietnam time (UTC+7, no daylight saving),
the zone every date shown is in; the decimal comma."""

from __future__ import annotations

import datetime as dt
import re

VN = dt.timezone(dt.timedelta(hours=7))


def now() -> dt.datetime:
    return dt.datetime.now(VN)


def parse_time(text: str) -> dt.datetime:
    """``2026-12-01``, ``2026-12-01 08:00`` or full ISO 8601; no offset means Vietnam
    time. Raises ValueError on anything else."""
    text = text.strip().replace(" ", "T")
    if re.fullmatch(r"\d{4}-\d\d-\d\d", text):
        text += "T00:00:00"
    when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=VN)


def decimal(value: object) -> str:
    """Vietnamese writes decimals with a comma: ``8.5`` -> ``8,5`` (the XML keeps the dot);
    anything that is not a plain decimal number is left as it is."""
    v = ("" if value is None else str(value)).strip()
    if v.replace(".", "", 1).isdigit() and v.count(".") == 1:
        return v.replace(".", ",")
    return v


def megabytes(n: int) -> str:
    """A size in MB the Vietnamese way: ``2883912345`` -> ``2.883,9 MB``."""
    return f"{n / 1e6:,.1f}".translate(str.maketrans(",.", ".,")) + " MB"


def thousands(n: int) -> str:
    """Vietnamese groups thousands with a dot: ``4700372992`` -> ``4.700.372.992``."""
    return f"{n:,}".replace(",", ".")
