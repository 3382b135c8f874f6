"""``archiver sample``: write a realistic, signed sample school to a folder.

Layout of the output::

    DIR/sample.json            what was generated (school, classes, counts, seed)
    DIR/trust/                 root + issuing CA certificates (PEM) and their CRLs
    DIR/tsa/                   a TSA certificate (timeStamping EKU) and its key
    DIR/keys/                  the signers' private keys and certificates (TEST ONLY)
    DIR/input/<class>/*.xml    one signed transcript per student
    DIR/defects/*.xml          with --defects: labelled broken variants
    DIR/defects.json           with --defects: what each must verdict
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .. import __version__
from ..profiles import get_profile
from . import pki, school
from .school import ClassPlan, Person, SchoolPlan, StudentRecord
from .signing import SignatureSpec, Signer, serialise, sign_document, wrapper


@dataclass
class SampleOptions:
    out: Path
    students: int = 20  # per class
    classes: int = 2
    year: str = "2025-2026"
    seed: str = "1"
    defects: bool = False
    profile_id: str = "hocba-1-thcs"
    jobs: int | None = None
    scans: bool = False  # also paper transcripts to digitise, and PKCS#12 keys (archiver.sample.scans)


@dataclass
class SampleSummary:
    out: str
    profile: str
    school_code: str
    school_name: str
    school_year: str
    seed: str
    classes: dict[str, int]
    transcripts: int
    defects: int
    validation_time: str
    generator: str = f"archiver {__version__}"
    files: list[str] = field(default_factory=list)
    seconds: float = 0.0


class SamplePKI:
    """The test PKI of one sample school, keys reused from ``keys/`` when present."""

    def __init__(self, plan: SchoolPlan, keys_dir: Path):
        self.plan = plan
        self.keys = pki.KeyStore(keys_dir)
        self.seed = plan.seed
        y = plan.start_year
        self.root = pki.self_signed_root(
            "root-ca", "Archiver TEST Root CA", self.keys.get("root-ca"), self.seed,
            pki.utc(y - 6), pki.utc(y + 19))
        self.issuing = pki.sub_ca(
            self.root, "issuing-ca", "Archiver TEST CA Giáo dục", self.keys.get("issuing-ca"),
            self.seed, pki.utc(y - 5), pki.utc(y + 14))
        self._signers: dict[str, Signer] = {}
        self.certs: dict[str, bytes] = {}  # key name -> certificate PEM, written to keys/
        self.extra_trusted: list[pki.Authority] = []  # further CAs written to trust/
        self._untrusted: pki.Authority | None = None
        self._no_crl: pki.Authority | None = None

    def untrusted_root(self) -> pki.Authority:
        """A root CA that is not in trust/: chains to it end nowhere we trust."""
        if self._untrusted is None:
            y = self.plan.start_year
            self._untrusted = pki.self_signed_root(
                "untrusted-root-ca", "Untrusted TEST Root CA", self.keys.get("untrusted-root-ca"),
                self.seed, pki.utc(y - 6), pki.utc(y + 19))
        return self._untrusted

    def no_crl_ca(self) -> pki.Authority:
        """A second issuing CA, trusted, whose CRL is not in trust/ (no revocation data)."""
        if self._no_crl is None:
            y = self.plan.start_year
            self._no_crl = pki.sub_ca(
                self.root, "issuing-ca-2", "Archiver TEST CA 2 (không có CRL)",
                self.keys.get("issuing-ca-2"), self.seed, pki.utc(y - 5), pki.utc(y + 14))
            self.extra_trusted.append(self._no_crl)
        return self._no_crl

    # Ordinary signers: certificates valid from a year before the school year to five after.
    def person(self, who: Person, *, variant: str = "", authority: pki.Authority | None = None,
               not_before: dt.datetime | None = None, not_after: dt.datetime | None = None,
               revoked_at: dt.datetime | None = None) -> Signer:
        name = who.key_name + (f"-{variant}" if variant else "")
        if name in self._signers:
            return self._signers[name]
        subject = pki.person_name(who.name, who.citizen_id, self.plan.province, self.plan.district)
        return self._issue(name, subject, authority, not_before, not_after, revoked_at)

    def organisation(self) -> Signer:
        name = f"mns-{self.plan.school_code}"
        if name in self._signers:
            return self._signers[name]
        subject = pki.organisation_name(self.plan.school_name, self.plan.org_uid,
                                        self.plan.province, self.plan.district)
        return self._issue(name, subject, None, None, None, None)

    def _issue(self, name, subject, authority, not_before, not_after, revoked_at) -> Signer:
        authority = authority or self.issuing
        y = self.plan.start_year
        key = self.keys.get(name)
        serial = pki.serial_for(self.seed, name)
        cert = authority.issue(subject, key.public_key(), serial,
                               not_before or pki.utc(y - 1, 8, 1),
                               not_after or pki.utc(y + 6, 7, 31))
        if revoked_at is not None:
            authority.revoked.append((serial, revoked_at))
        chain = [cert, authority.cert]
        signer = Signer.from_certs(pki.key_pem(key), chain)
        self._signers[name] = signer
        self.certs[name] = pki.cert_pem(cert)
        return signer

    def tsa(self) -> tuple[bytes, bytes]:
        """(certificate PEM, key PEM) of a TSA with the critical timeStamping EKU."""
        y = self.plan.start_year
        key = self.keys.get("tsa")
        subject = pki.ca_name("Archiver TEST TSA")
        cert = self.root.issue(subject, key.public_key(), pki.serial_for(self.seed, "tsa"),
                               pki.utc(y - 1), pki.utc(y + 11), timestamping=True)
        return pki.cert_pem(cert), pki.key_pem(key)


# --- signing times -------------------------------------------------------------------
# Teachers sign a whole class in one sitting, days before the homeroom teacher, who signs
# before the principal, who signs before the clerk applies the school's certificate; all
# before the 30 June lock (003 Art. 24.5, 25). Times carry no offset (Vietnam time),
# except the school's, which carries "+07:00" to exercise both forms of the spec.

def _stamp(day: dt.date, seconds: int, offset: bool = False) -> str:
    t = dt.datetime.combine(day, dt.time(0)) + dt.timedelta(seconds=seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%S") + ("+07:00" if offset else "")


def signing_times(plan: SchoolPlan, cls: ClassPlan, number: int, *, shift_days: int = 0) -> dict[str, str]:
    e = plan.end_year
    times: dict[str, str] = {}
    for i, subject in enumerate(cls.subjects):
        day = dt.date(e, 5, 18) + dt.timedelta(days=i % 10 + shift_days)
        times[f"CKS-GVBM-{subject.code}"] = _stamp(day, 7 * 3600 + 1800 + (cls.index % 8) * 2700 + number * 47)
    times["CKS-GVCN"] = _stamp(dt.date(e, 6, 8) + dt.timedelta(days=cls.index % 5 + shift_days),
                               14 * 3600 + number * 53)
    times["CKS-HT"] = _stamp(dt.date(e, 6, 15) + dt.timedelta(days=cls.index % 3 + shift_days),
                             8 * 3600 + cls.index * 1500 + number * 29)
    times["CKS-TC"] = _stamp(dt.date(e, 6, 22) + dt.timedelta(days=cls.index % 3 + shift_days),
                             9 * 3600 + cls.index * 1500 + number * 31, offset=True)
    return times


@dataclass
class DocumentJob:
    """Everything a worker needs to sign one document and write it. Keys travel by name:
    each worker receives the key table once (see :func:`run_jobs`)."""

    path: Path
    unsigned: bytes
    signatures: list[tuple[str, str]]  # (Signature Id, key name)
    id_elements: tuple[str, ...]


def document_job(path: Path, unsigned: bytes, specs: list[SignatureSpec],
                 id_elements: tuple[str, ...], key_table: dict[str, bytes]) -> DocumentJob:
    names = []
    for spec in specs:
        name = key_table.setdefault(spec.signer.key_pem, f"k{len(key_table)}")
        names.append((spec.sig_id, name))
    return DocumentJob(path, unsigned, names, id_elements)


def default_specs(pkis: SamplePKI, plan: SchoolPlan, cls: ClassPlan, record: StudentRecord,
                  times: dict[str, str]) -> list[SignatureSpec]:
    specs = [
        SignatureSpec(f"CKS-GVBM-{m.subject.code}", "GVBM", m.subject.code, f"#{m.element_id}",
                      times[f"CKS-GVBM-{m.subject.code}"], pkis.person(m.teacher))
        for m in record.marks if m.signs
    ]
    specs.append(SignatureSpec("CKS-GVCN", "GVCN", None, "#DLHocBa", times["CKS-GVCN"],
                               pkis.person(cls.homeroom)))
    specs.append(SignatureSpec("CKS-HT", "HT", None, "#DLHocBa", times["CKS-HT"],
                               pkis.person(plan.principal)))
    specs.append(SignatureSpec("CKS-TC", "TC", None, "#DLHocBa", times["CKS-TC"],
                               pkis.organisation()))
    return specs


def unsigned_document(plan: SchoolPlan, cls: ClassPlan, record: StudentRecord,
                      specs: list[SignatureSpec]) -> bytes:
    signers = school.signer_entries(plan, cls, record)
    body = school.business_xml(plan, cls, record, signers)
    wrapper_name = plan.profile.signing.signature_wrapper
    cks = "".join(wrapper(spec, wrapper_name) for spec in specs).encode("utf-8")
    return b'<HocBa PhienBan="1.0">' + body + b"<DSCKS>" + cks + b"</DSCKS></HocBa>"


_WORKER_KEYS: dict[str, bytes] = {}


def _init_worker(keys: dict[str, bytes]) -> None:
    _WORKER_KEYS.update(keys)


def _sign_and_write(job: DocumentJob) -> str:
    keys = [(sig_id, _WORKER_KEYS[name]) for sig_id, name in job.signatures]
    data = serialise(sign_document(job.unsigned, keys, job.id_elements))
    job.path.parent.mkdir(parents=True, exist_ok=True)
    job.path.write_bytes(data)
    return str(job.path)


def run_jobs(jobs: list[DocumentJob], key_table: dict[bytes, str], workers: int) -> None:
    keys = {name: pem for pem, name in key_table.items()}
    # Signing dominates; below a few dozen documents a pool costs more than it saves.
    from ..pipeline.pool import WorkerPool

    with WorkerPool(workers if len(jobs) >= 24 else 1, _init_worker, (keys,)) as pool:
        for _ in pool.map(_sign_and_write, jobs, chunksize=max(1, len(jobs) // (workers * 8))):
            pass


def generate_sample(options: SampleOptions) -> SampleSummary:
    """Write the sample school. ``options.profile_id`` may name several profiles separated
    by commas: one school teaching each of those levels (a trường liên cấp), with
    ``options.classes`` classes of each."""
    started = time.perf_counter()
    out = Path(options.out)
    profiles = tuple(get_profile(pid.strip()) for pid in options.profile_id.split(",") if pid.strip())
    plans = [school.plan_school(p, str(options.seed), options.year, options.classes, options.students,
                                levels=profiles) for p in profiles]
    plan = plans[0]  # every level's plan is the same school: one PKI for all
    out.mkdir(parents=True, exist_ok=True)
    keys_dir = out / "keys"
    pkis = SamplePKI(plan, keys_dir)

    jobs: list[DocumentJob] = []
    key_table: dict[bytes, str] = {}
    class_counts: dict[str, int] = {}
    for level in plans:
        id_elements = level.profile.signing.id_elements
        for cls in level.classes:
            for number in range(1, cls.student_count + 1):
                record = school.make_student(level, cls, number)
                times = signing_times(level, cls, number)
                specs = default_specs(pkis, level, cls, record, times)
                path = out / "input" / cls.name / f"{record.student_code}.xml"
                if level is plan and cls.index == 0 and number == 1:
                    # A revoked-and-replaced pair (000 Art. 13): the first version is kept too.
                    jobs.append(document_job(path.with_name(f"{record.student_code}-thu-hoi.xml"),
                                             unsigned_document(level, cls, record, specs), specs,
                                             id_elements, key_table))
                    corrected = school.make_student(level, cls, number, tag="/replacement")
                    corrected.person, corrected.student_code = record.person, record.student_code
                    corrected.birth_date, corrected.birth_place = record.birth_date, record.birth_place
                    corrected.father, corrected.mother = record.father, record.mother
                    corrected.ethnicity = record.ethnicity
                    corrected.replaces = (record.lookup_code,
                                          "Điều chỉnh mức đạt do nhập sai kết quả đánh giá"
                                          if school.by_levels(level.profile) else
                                          "Điều chỉnh kết quả học tập do nhập sai điểm")
                    record = corrected
                    times = signing_times(level, cls, number, shift_days=5)
                    specs = default_specs(pkis, level, cls, record, times)
                jobs.append(document_job(path, unsigned_document(level, cls, record, specs), specs,
                                         id_elements, key_table))
            class_counts[cls.name] = sum(1 for j in jobs if j.path.parent.name == cls.name)

    defect_entries: list[dict] = []
    if options.defects:
        from .defects import make_defects  # only with --defects

        defect_entries = make_defects(plan, pkis, out)

    scan_defects: list[dict] | None = None
    if options.scans:
        from .scans import write_scans  # only with --scans

        scan_defects = write_scans(out, plan, pkis)
    # CRLs and certificates are written after every revocation is known.
    _write_trust(out, plan, pkis)
    if options.scans:
        from .scans import README as SCANS_README

        (out / "keys" / "README.txt").write_text(pki.KEYS_README + SCANS_README, encoding="utf-8")
    run_jobs(jobs, key_table, options.jobs or os.cpu_count() or 1)

    validation_time = f"{plan.end_year}-12-01T00:00:00+07:00"
    summary = SampleSummary(
        out=str(out), profile=",".join(p.id for p in profiles), school_code=plan.school_code,
        school_name=plan.school_name, school_year=plan.school_year, seed=str(options.seed),
        classes=class_counts, transcripts=len(jobs), defects=len(defect_entries),
        validation_time=validation_time,
        files=sorted(j.path.relative_to(out).as_posix() for j in jobs),
    )
    if options.defects:
        (out / "defects.json").write_text(json.dumps({
            "generator": summary.generator,
            "seed": summary.seed,
            "validation_time": validation_time,
            "trust": "trust",
            "note": "Each entry says what `archiver verify --trust trust --at validation_time` "
                    "must conclude (spec sections 3-5). Signatures not listed are TOTAL_PASSED.",
            "defects": defect_entries,
        }, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    summary.seconds = round(time.perf_counter() - started, 2)
    record_copy = asdict(summary)
    for volatile in ("seconds", "out"):  # keep sample.json identical across runs and places
        record_copy.pop(volatile)
    if scan_defects is not None:
        record_copy["scans"] = {"roster": "scans/roster.csv", "images": "scans/images",
                                "keys": ["keys/principal.p12", "keys/school.p12"], "defects": scan_defects}
    (out / "sample.json").write_text(json.dumps(record_copy, ensure_ascii=False, indent=2) + "\n",
                                     encoding="utf-8")
    return summary


def _write_trust(out: Path, plan: SchoolPlan, pkis: SamplePKI) -> None:
    trust = out / "trust"
    trust.mkdir(parents=True, exist_ok=True)
    # Long-lived test CRLs issued after the lock date, so that the sample verifies for
    # years; real CRLs live days, which is why real trust stores are configuration.
    this_update = pki.utc(plan.end_year, 7, 1)
    next_update = pki.utc(plan.end_year + 6, 7, 1)
    (trust / "root-ca.pem").write_bytes(pki.cert_pem(pkis.root.cert))
    (trust / "issuing-ca.pem").write_bytes(pki.cert_pem(pkis.issuing.cert))
    for authority in (pkis.root, pkis.issuing):
        crl = authority.crl(this_update, next_update, number=1)
        (trust / f"{authority.name}.crl").write_bytes(crl.public_bytes(pki.serialization.Encoding.PEM))
    for extra in pkis.extra_trusted:
        (trust / f"{extra.name}.pem").write_bytes(pki.cert_pem(extra.cert))
    tsa_cert, tsa_key = pkis.tsa()
    (out / "tsa").mkdir(exist_ok=True)
    (out / "tsa" / "tsa.pem").write_bytes(tsa_cert)
    (out / "tsa" / "tsa.key.pem").write_bytes(tsa_key)
    (out / "tsa" / "README.txt").write_text(pki.KEYS_README, encoding="utf-8")
    keys = out / "keys"
    keys.mkdir(exist_ok=True)
    (keys / "README.txt").write_text(pki.KEYS_README, encoding="utf-8")
    for name, pem in pkis.certs.items():
        (keys / f"{name}.crt.pem").write_bytes(pem)
