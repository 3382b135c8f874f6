"""What the verify stage of a build keeps for the build's later stages.

One file per new input, ``<sha256>.kept`` in the build's staging area (deleted with it):
the verification report with its validation data, the transcript's content as read, and
its QR code. Rendering and the site take them from there instead of parsing the XML and
making the code again. One file rather than three: creating a file cost about 0.24 ms on
the machines measured, as much as reading a transcript.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..transcript import Transcript


@dataclass
class Kept:
    report: dict[str, Any]  # VerificationReport.to_dict(validation_data=True)
    transcript: Transcript | None = None  # None for a rejected input
    qr: tuple[bytes, ...] | None = None  # archiver.qr.qr_matrix of the lookup code


def kept_path(work_dir: str | os.PathLike[str], sha256: str) -> Path:
    return Path(work_dir) / f"{sha256}.kept"


def keep(path: str | os.PathLike[str], kept: Kept) -> None:
    # pickled: read back once or twice, by this software, within the same build
    with open(path, "wb") as fh:
        pickle.dump(kept, fh, protocol=pickle.HIGHEST_PROTOCOL)


def load_kept(path: str | os.PathLike[str] | None) -> Kept | None:
    """What :func:`keep` wrote, or None (nothing kept there, or unreadable)."""
    if not path:
        return None
    try:
        with open(path, "rb") as fh:
            found = pickle.load(fh)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, TypeError, ValueError):
        return None
    return found if isinstance(found, Kept) else None


def kept_transcript(kept: Kept | None, profile_id: str) -> Transcript | None:
    """The kept content, if it was read with ``profile_id``."""
    t = kept.transcript if kept is not None else None
    return t if isinstance(t, Transcript) and t.profile_id == profile_id else None
