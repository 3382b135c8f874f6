"""The build's verify stage: each new input verified, read once, and kept for later stages.

In worker processes: the signatures are verified (:mod:`archiver.verify`), the
transcript's content is read from the document the verifier parsed, its QR code drawn,
and all of it kept on disk (:mod:`.kept`) for rendering and the site. Back in the main
process only a small :class:`~archiver.archive.records.NewTranscript` per input remains;
those wait in a :class:`Spool` on disk, grouped by the package they will go to.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

from ..archive.records import NewTranscript, School, TranscriptRecord, content_facts
from ..inputs import InputItem
from ..verify import VerifySettings
from ..verify.report import REJECTED, Finding

_WORKER: dict[str, Any] = {}


def init_worker(settings: VerifySettings) -> None:
    _WORKER["verifier"] = settings.build()
    _WORKER["settings"] = settings


def verify_one(job: tuple[str, InputItem, str]) -> NewTranscript:
    from ..profiles import get_profile
    from ..qr import qr_matrix
    from ..safexml import parse_bytes
    from ..transcript import read_transcript
    from ..verify import verify_item
    from .kept import Kept, keep, kept_path

    sha, item, work_dir = job
    verifier = _WORKER["verifier"]
    settings: VerifySettings = _WORKER["settings"]
    verifier.last_document = None  # verify_item may stop before parsing
    report = verify_item(verifier, item, settings)
    report.path = item.name
    if item.kept_whole:
        # a member could not be read, or would expand beyond any transcript: the zip is
        # kept whole (its other members are archived as usual), and says why
        report.verdict = REJECTED
        report.reasons = [Finding(
            "ZIP_KEPT_WHOLE", f"Tệp zip có tệp bên trong không đọc được hoặc quá lớn; cả tệp zip được giữ nguyên trong "
                              f"gói kiểm duyệt, các học bạ đọc được trong đó vẫn được lưu như thường. Hãy xuất lại từ hệ "
                              f"thống học bạ / a zip with a member that is unreadable or too large, kept whole; its "
                              f"readable transcripts are archived as usual: {item.kept_whole}")]
    elif report.verdict == REJECTED and item.source.lower().endswith(".zip") and item.member is None:
        # ingest could not open it as a zip: the export is kept whole, and says why
        report.reasons = [Finding(
            "DAMAGED_ZIP", "Tệp zip hỏng, không mở được; cả tệp được giữ nguyên trong gói kiểm duyệt. Hãy xuất lại "
                           "từ hệ thống học bạ / a damaged zip export, kept whole in quarantine: export it again")]
    kept = Kept(report=report.to_dict(validation_data=True))
    record = TranscriptRecord(
        stem="", sha256=sha, verdict=report.verdict, lookup_code=report.lookup_code, name=report.student_name,
        warnings=len(report.warnings), reason="; ".join(r.message for r in report.reasons),
        profile=report.profile,
        reason_code=report.reasons[0].code if report.reasons and report.verdict == REJECTED else "")
    out = NewTranscript(record, str(kept_path(work_dir, sha)),
                        first_reason=report.reasons[0].code if report.reasons else "")
    if report.verdict != REJECTED and report.profile in _pdf_profiles(settings):
        # a signed PDF transcript (a scan): its facts come from the record the verifier read
        from ..scans.profile import record_facts, record_school
        from ..verify import pdf_verifier

        profile = _pdf_profiles(settings)[report.profile]
        record_json = pdf_verifier(verifier, settings).last_record or {}
        for key, value in record_facts(record_json, profile).items():
            setattr(record, key, value)
        out.school = School(*record_school(record_json, profile))
        kept.qr = qr_matrix(record.lookup_code) if record.lookup_code else None
    elif report.verdict != REJECTED:
        # The worker reads the content once, here, for everything the packaging needs.
        document = verifier.last_document if verifier.last_document is not None else parse_bytes(item.read())
        t = read_transcript(document, verifier.profiles.get(report.profile) or get_profile(report.profile))
        kept.transcript = t
        kept.qr = qr_matrix(t.lookup_code) if t.lookup_code else None  # for its PDF and site page
        out.school = School(t.school.code, t.school.name, t.school.province)
        for key, value in content_facts(t).items():
            setattr(record, key, value)
    else:
        # A rejected file may still tell its school year; quarantine is kept per year.
        match = re.search(rb"<NamHoc>\s*(\d{4}-\d{4})\s*</NamHoc>", item.read(1 << 20))
        record.school_year = match[1].decode() if match else ""
    keep(out.kept_path, kept)
    return out


def _pdf_profiles(settings: VerifySettings):  # type: ignore[no-untyped-def]
    from ..scans.profile import pdf_profiles

    return pdf_profiles(settings.profiles_dirs)


class Spool:
    """Verification results on disk, one JSON-lines file per package to be written: the
    orchestrator's memory does not grow with the number of transcripts."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.counts: Counter = Counter()

    def _file(self, group: str) -> Path:
        return self.folder / f"{group or '_'}.jsonl"  # group names are already file-safe

    def add(self, group: str, new: NewTranscript) -> None:
        line = {"record": new.record.to_json(), "kept_path": new.kept_path,
                "school": dataclasses.astuple(new.school), "first_reason": new.first_reason}
        with open(self._file(group), "a", encoding="utf-8") as fh:
            fh.write(json.dumps(line, ensure_ascii=False) + "\n")
        self.counts[group] += 1

    def merge(self, source: str, target: str) -> None:
        if not self.counts[source]:
            self.counts.pop(source, None)
            return
        with open(self._file(target), "a", encoding="utf-8") as fh:
            fh.write(self._file(source).read_text(encoding="utf-8"))
        self._file(source).unlink()
        self.counts[target] += self.counts.pop(source)

    def load(self, group: str) -> list[NewTranscript]:
        with open(self._file(group), encoding="utf-8") as fh:
            return [NewTranscript(TranscriptRecord.from_json(entry["record"]), entry["kept_path"],
                                  School(*entry["school"]), entry["first_reason"])
                    for entry in map(json.loads, fh)]

    @property
    def total(self) -> int:
        return sum(self.counts.values())
