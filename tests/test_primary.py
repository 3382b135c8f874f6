"""Primary schools: profile hocba-1-tieuhoc (spec section 7, Circular 27/2020) end to end.

The format and its schema; `archiver sample --profile hocba-1-tieuhoc` (subjects per grade,
levels consistent with the year's result, GVBM signatures only for specialist subjects);
verification (every defect kind, and GVBM required only where listed) with xmlsec1 as
the reference; the rendering checked by independent tools; and a school teaching
primary and lower-secondary classes (trường liên cấp) built into one archive with one
site, driven in Chromium.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import unicodedata
from pathlib import Path

import pytest
from lxml import etree

from archiver.profiles import available_profiles, detect_profile, get_profile
from archiver.render import render_transcript
from archiver.safexml import parse_bytes
from archiver.sample import SampleOptions, generate_sample
from archiver.sample import primary as circular27
from archiver.site.text import fold
from archiver.transcript import read_transcript
from archiver.verify import Verifier, load_trust

from . import pdftools
from .conftest import FIXTURES, SAMPLE, require_tool
from .xmlsec_cli import signature_ids, signing_time_utc
from .xmlsec_cli import verify as xmlsec1_verify

PRIMARY = FIXTURES / "primary"
EXAMPLE = FIXTURES / "spec" / "sample-transcript-tieuhoc.xml"
AT = dt.datetime.fromisoformat("2026-12-01T00:00:00+07:00")
NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=7)))
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "primary"
DSIG = "{http://www.w3.org/2000/09/xmldsig#}"
LEVEL_WORDS = {"Hoàn thành tốt", "Hoàn thành", "Chưa hoàn thành"}


@pytest.fixture(scope="module")
def profile():
    return get_profile("hocba-1-tieuhoc")


@pytest.fixture(scope="module")
def primary_school(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A primary school generated during the run (one class per grade, three pupils each)."""
    out = tmp_path_factory.mktemp("primary")
    shutil.copytree(PRIMARY / "keys", out / "keys")  # the staff's keys, when the seed names them again
    generate_sample(SampleOptions(out=out, classes=5, students=3, seed="gen", defects=True,
                                  profile_id="hocba-1-tieuhoc"))
    return out


def transcripts(folder: Path) -> list[Path]:
    return sorted((folder / "input").rglob("*.xml"))


def content(path: Path, profile):
    return read_transcript(parse_bytes(path.read_bytes()), profile)


# -- the profile, as data -----------------------------------------------------------------

def test_the_primary_profile_is_a_folder_of_data(profile):
    assert profile.level == "TH" and profile.grades == (1, 2, 3, 4, 5) and profile.register_suffix == "/TH"
    assert profile.level_name == "Tiểu học" and profile.level_title == "TIỂU HỌC"
    roles = profile.signing.roles
    assert {r for r, rule in roles.items() if rule.required} == {"GVCN", "HT", "TC"}
    assert roles["GVBM"].per_subject and not roles["GVBM"].required
    assert profile.scales["subject"] == {"T": "Hoàn thành tốt", "H": "Hoàn thành", "C": "Chưa hoàn thành"}
    assert profile.scales["quality"] == {"T": "Tốt", "Đ": "Đạt", "C": "Cần cố gắng"}
    assert set(profile.scales["result"]) == {"HTXS", "HTT", "HT", "CHT"}
    grade = {g: [s.name for s in profile.subjects if s.in_grade(g)] for g in (1, 3, 5)}
    assert "Tự nhiên và Xã hội" in grade[1] and "Khoa học" not in grade[1] and "Ngoại ngữ 1 (Tiếng Anh)" not in grade[1]
    assert "Tin học và Công nghệ" in grade[3] and "Tự nhiên và Xã hội" in grade[3]
    assert {"Khoa học", "Lịch sử và Địa lí"} <= set(grade[5]) and "Tự nhiên và Xã hội" not in grade[5]
    tested = {s.code for s in profile.subjects if s.tested_in(5)}
    assert tested == {"TV", "TOAN", "NN1", "KH", "LSDL", "THCN"}
    assert {s.code for s in profile.subjects if s.tested_in(1)} == {"TV", "TOAN"}
    assert [c.name for c in profile.competences if c.group == "Năng lực đặc thù"] == [
        "Ngôn ngữ", "Tính toán", "Khoa học", "Công nghệ", "Tin học", "Thẩm mĩ", "Thể chất"]


def test_detection_tells_the_three_levels_apart():
    profiles = available_profiles()
    primary = parse_bytes(EXAMPLE.read_bytes())
    assert detect_profile(primary.getroot(), profiles).id == "hocba-1-tieuhoc"
    thcs = parse_bytes((FIXTURES / "spec" / "sample-transcript.xml").read_bytes())
    assert detect_profile(thcs.getroot(), profiles).id == "hocba-1-thcs"


def test_the_schema_validates_the_example_and_refuses_marks(profile):
    example = EXAMPLE.read_bytes()
    assert profile.schema.validate(parse_bytes(example)), profile.schema.error_log
    for bad in (example.replace(b"<MucDatCN>T</MucDatCN>", b"<MucDatCN>8.5</MucDatCN>", 1),
                example.replace(b"<DiemCN>10</DiemCN>", b"<DiemCN>9.5</DiemCN>", 1),
                example.replace(b"<DanhGia>HTT</DanhGia>", b"<DanhGia>Gi\xe1\xbb\x8fi</DanhGia>"),
                example.replace(b'MucDat="T"', b'MucDat="Kh\xc3\xa1"', 1),
                example.replace(b'Khoi="5"', b'Khoi="6"')):
        assert bad != example and not profile.schema.validate(parse_bytes(bad))
    # each level's schema refuses the other's transcript
    thcs = get_profile("hocba-1-thcs")
    assert not thcs.schema.validate(parse_bytes(example))
    assert not profile.schema.validate(parse_bytes((FIXTURES / "spec" / "sample-transcript.xml").read_bytes()))


def test_the_example_reads_through_the_profile(profile):
    t = content(EXAMPLE, profile)
    assert t.level == "TH" and t.grade == "5" and t.year_result == "HTT"
    assert t.awards.startswith("Học sinh Tiêu biểu") and t.promotion == "Hoàn thành chương trình tiểu học"
    tv = t.subjects[0]
    assert (tv.code, tv.assessment, tv.term1, tv.year, tv.value("term1_score"), tv.value("year_score")) == \
        ("TV", "level", "T", "T", "9", "9")
    assert profile.show(tv.year, scale="subject") == "Hoàn thành tốt"
    assert profile.show(t.year_result, scale="result") == "Hoàn thành tốt"
    assert [c.level for c in t.competences][:3] == ["T", "T", "T"]


# -- the generated school -----------------------------------------------------------------

def test_every_generated_transcript_follows_the_schema(primary_school: Path, profile):
    files = transcripts(primary_school) + transcripts(PRIMARY)
    assert len(files) == 16 + 11
    for path in files:
        tree = parse_bytes(path.read_bytes())
        assert profile.schema.validate(tree), (path, profile.schema.error_log)


def test_classes_are_one_per_grade_with_the_subjects_of_their_grade(primary_school: Path, profile):
    summary = json.loads((primary_school / "sample.json").read_text(encoding="utf-8"))
    assert list(summary["classes"]) == ["5A", "4A", "3A", "2A", "1A"]
    assert summary["school_name"].startswith("Trường Tiểu học ")
    for path in transcripts(primary_school):
        data = path.read_bytes()
        assert unicodedata.is_normalized("NFC", data.decode("utf-8"))
        t = content(path, profile)
        grade = int(t.grade)
        assert t.class_name == f"{grade}A" and t.register_number == f"{t.student.student_code}/TH"
        assert [s.code for s in t.subjects] == [s.code for s in profile.subjects if s.in_grade(grade)]
        for s in t.subjects:
            tested = profile.subject(s.code).tested_in(grade)
            assert bool(s.value("term1_score")) == bool(s.value("year_score")) == tested, (path, s)
            assert s.assessment == "level" and {s.term1, s.year} <= {"T", "H", "C"}
        assert [h.class_name for h in t.history] == [f"{g}A" for g in range(1, grade + 1)]
        assert int(t.student.birth_date[:4]) == 2026 - grade - 6


def test_levels_are_consistent_with_the_year_result(primary_school: Path, profile):
    """Circular 27/2020 Art. 14 (result), 15 (awards), 16 (promotion) hold in every transcript."""
    seen = set()
    for path in transcripts(primary_school) + transcripts(PRIMARY):
        t = content(path, profile)
        levels = [s.year for s in t.subjects]
        assessed = [a.level for a in (*t.qualities, *t.competences)]
        tests = [int(s.value("year_score")) for s in t.subjects if s.value("year_score")]
        assert t.year_result == circular27.year_result(levels, assessed, tests), path
        final = t.grade == "5"
        assert t.promotion == circular27.promotion(levels, assessed, final), path
        if t.year_result == "HTXS":
            assert t.awards == "Học sinh Xuất sắc"
        elif t.year_result != "HTT":
            assert not t.awards
        for s in t.subjects:  # a score beside its level: T 7-10, H 5-8, C 2-5
            for level, score in ((s.term1, s.value("term1_score")), (s.year, s.value("year_score"))):
                if score:
                    low, high = {"T": (7, 10), "H": (5, 8), "C": (2, 5)}[level]
                    assert low <= int(score) <= high, (path, s)
        seen.add(t.year_result)
    assert len(seen) >= 3, seen  # the sample is not one result repeated


def test_only_specialist_subjects_carry_a_subject_teachers_signature(primary_school: Path, profile):
    for path in transcripts(primary_school):
        root = etree.parse(str(path)).getroot()
        t = read_transcript(root, profile)
        gvcn = next(s for s in t.signers if s.role == "GVCN")
        specialists = [s.code for s in t.subjects if profile.subject(s.code).teacher == "subject"]
        assert [s.subject for s in t.signers if s.role == "GVBM"] == specialists
        assert specialists, path  # every grade has GDTC, Âm nhạc, Mĩ thuật
        for s in t.subjects:
            if profile.subject(s.code).teacher == "homeroom":
                assert s.teacher == gvcn.name, (path, s)
        sigs = {s.get("Id"): s for s in root.iter(f"{DSIG}Signature")}
        assert set(sigs) == {s.signature_id for s in t.signers} and len(sigs) == len(specialists) + 3
        for entry in t.signers:
            refs = [r.get("URI") for r in sigs[entry.signature_id].iter(f"{DSIG}Reference")]
            assert refs[0] == (f"#MH-{entry.subject}" if entry.role == "GVBM" else "#DLHocBa")


def test_xmlsec1_accepts_every_generated_signature(primary_school: Path):
    require_tool("xmlsec1")
    checked = 0
    for school in (primary_school, PRIMARY):
        for path in transcripts(school):
            for sig_id in signature_ids(path):
                ok, output = xmlsec1_verify(path, sig_id, school / "trust", signing_time_utc(path, sig_id))
                assert ok, f"{path.name} {sig_id}: {output}"
                checked += 1
    assert checked >= 27 * 6


@pytest.fixture(scope="module")
def verifier() -> Verifier:
    return Verifier(load_trust(PRIMARY / "trust"), validation_time=AT)


def not_passed(report) -> dict[str, list[str]]:
    return {s.id: [s.status, s.sub_indication] for s in report.signatures if s.status != "TOTAL_PASSED"}


def test_every_committed_primary_transcript_is_valid(verifier: Verifier):
    paths = transcripts(PRIMARY)
    assert len(paths) == 11
    for path in paths:
        report = verifier.verify_bytes(path.read_bytes(), str(path))
        assert report.verdict == "VALID", (path, not_passed(report), report.reasons)
        assert report.profile == "hocba-1-tieuhoc" and not report.warnings


def primary_defects():
    data = json.loads((PRIMARY / "defects.json").read_text(encoding="utf-8"))
    return [pytest.param(d, id=d["kind"]) for d in data["defects"]]


@pytest.mark.parametrize("defect", primary_defects())
def test_each_defect_gets_its_verdict_under_the_primary_profile(verifier: Verifier, defect: dict):
    report = verifier.verify_bytes((PRIMARY / defect["file"]).read_bytes(), defect["file"])
    assert report.verdict == defect["verdict"]
    assert not_passed(report) == defect["signatures"]
    if defect["reason"]:
        assert defect["reason"] in [r.code for r in report.reasons]
    else:
        assert report.profile == "hocba-1-tieuhoc"
    assert set(defect["warnings"]) <= {w.code for w in report.warnings}


def test_the_primary_defects_are_the_secondary_ones():
    kinds = {d["kind"] for d in json.loads((PRIMARY / "defects.json").read_text(encoding="utf-8"))["defects"]}
    secondary = {d["kind"] for d in json.loads((SAMPLE / "defects.json").read_text(encoding="utf-8"))["defects"]}
    assert kinds == secondary and len(kinds) == 25


def test_the_generated_school_agrees_with_its_manifest(primary_school: Path):
    verifier = Verifier(load_trust(primary_school / "trust"), validation_time=AT)
    manifest = json.loads((primary_school / "defects.json").read_text(encoding="utf-8"))
    for d in manifest["defects"]:
        report = verifier.verify_bytes((primary_school / d["file"]).read_bytes(), d["file"])
        assert (report.verdict, not_passed(report)) == (d["verdict"], d["signatures"]), d["kind"]


def _signed(school: Path, change) -> bytes:
    """A pupil of the generated school's grade-5 class, its results or signer list changed
    by ``change(record, specs)`` before signing, signed like the others."""
    from archiver.sample import generator, school as sample_school
    from archiver.sample.signing import serialise, sign_document

    profile = get_profile("hocba-1-tieuhoc")
    plan = sample_school.plan_school(profile, "gen", "2025-2026", 5, 3)
    pkis = generator.SamplePKI(plan, school / "keys")
    cls = plan.classes[0]
    record = sample_school.make_student(plan, cls, 2)
    times = generator.signing_times(plan, cls, 2)
    specs = generator.default_specs(pkis, plan, cls, record, times)
    specs = change(record, specs)
    unsigned = generator.unsigned_document(plan, cls, record, specs)
    signed = sign_document(unsigned, [(s.sig_id, s.signer.key_pem) for s in specs], profile.signing.id_elements)
    return serialise(signed)


def test_a_subject_teacher_signs_only_where_listed_but_then_must(primary_school: Path):
    verifier = Verifier(load_trust(primary_school / "trust"), validation_time=AT)

    def no_subject_teachers(record, specs):
        for mark in record.marks:
            mark.signs = False
        return [s for s in specs if s.role != "GVBM"]

    report = verifier.verify_bytes(_signed(primary_school, no_subject_teachers), "no-gvbm.xml")
    assert report.verdict == "VALID", (report.reasons, not_passed(report))
    assert {s.role for s in report.signatures} == {"GVCN", "HT", "TC"}

    def listed_but_unsigned(record, specs):
        return [s for s in specs if not s.sig_id.startswith("CKS-GVBM-AN")]

    report = verifier.verify_bytes(_signed(primary_school, listed_but_unsigned), "missing-gvbm.xml")
    assert report.verdict == "INVALID"
    assert not_passed(report) == {"CKS-GVBM-AN": ["TOTAL_FAILED", "FORMAT_FAILURE"]}


def test_the_homeroom_teacher_principal_and_school_must_be_listed(primary_school: Path):
    """The signer list is signed data: dropping a required role from it voids the document."""
    verifier = Verifier(load_trust(primary_school / "trust"), validation_time=AT)
    from archiver.sample import school as sample_school

    original = sample_school.signer_entries
    try:
        sample_school.signer_entries = lambda *a: [e for e in original(*a) if e[0] != "GVCN"]
        data = _signed(primary_school, lambda record, specs: [s for s in specs if s.role != "GVCN"])
    finally:
        sample_school.signer_entries = original
    report = verifier.verify_bytes(data, "no-gvcn.xml")
    assert report.verdict == "INVALID"
    assert [r.code for r in report.reasons] == ["SIGNER_NOT_LISTED"]
    assert "Giáo viên chủ nhiệm" in report.reasons[0].message


def test_a_school_of_two_levels_is_one_school(tmp_path: Path):
    shutil.copytree(PRIMARY / "keys", tmp_path / "keys")
    summary = generate_sample(SampleOptions(out=tmp_path, classes=1, students=2, seed="th",
                                            profile_id="hocba-1-tieuhoc,hocba-1-thcs"))
    assert list(summary.classes) == ["5A", "9A1"] and summary.profile == "hocba-1-tieuhoc,hocba-1-thcs"
    assert summary.school_name == "Trường Tiểu học và THCS Kim Đồng"
    verifier = Verifier(load_trust(tmp_path / "trust"), validation_time=AT)
    levels = {}
    for path in transcripts(tmp_path):
        report = verifier.verify_bytes(path.read_bytes(), str(path))
        assert report.verdict == "VALID" and not report.warnings, (path, report.reasons, report.warnings)
        t = read_transcript(parse_bytes(path.read_bytes()), get_profile(report.profile))
        assert (t.school.code, t.school.name) == (summary.school_code, summary.school_name)
        levels[t.class_name] = report.profile
    assert levels == {"5A": "hocba-1-tieuhoc", "9A1": "hocba-1-thcs"}


# -- the rendering ------------------------------------------------------------------------

def _pupil(grade: str) -> Path:
    return sorted((PRIMARY / "input" / f"{grade}A").glob("*.xml"))[0]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory, verifier: Verifier) -> dict[str, Path]:
    """A grade-1 and a grade-5 transcript rendered (PDF/A-3b, and -1b for Preflight) with the
    real verifier's result."""
    out = tmp_path_factory.mktemp("render-primary")
    paths = {}
    for grade in ("1", "5"):
        source = _pupil(grade)
        data = source.read_bytes()
        result = verifier.verify_bytes(data, source.name).to_dict()
        for flavour in ("3b", "1b"):
            paths[f"{grade}-{flavour}"] = out / f"grade{grade}-{flavour}.pdf"
            paths[f"{grade}-{flavour}"].write_bytes(render_transcript(data, verification=result, flavour=flavour))
    return paths


@pytest.mark.parametrize("grade", ["1", "5"])
def test_the_rendering_passes_the_independent_pdf_checks(rendered: dict[str, Path], grade: str,
                                                          profile, tmp_path: Path):
    result = pdftools.preflight(rendered[f"{grade}-1b"])
    assert result.valid, result.output
    for path in (rendered[f"{grade}-3b"], rendered[f"{grade}-1b"]):
        fonts = pdftools.pdffonts(path)
        assert fonts and all(f.embedded and f.subset and f.unicode for f in fonts), fonts
        assert pdftools.qpdf_check(path).returncode == 0
    source = _pupil(grade)
    files = pdftools.pdfdetach_all(rendered[f"{grade}-3b"], tmp_path / "detached")
    assert files == {source.name: source.read_bytes()}
    t = content(source, profile)
    text = re.sub(r"\s+", " ", pdftools.pdftotext(rendered[f"{grade}-3b"]))
    assert t.student.name in text and "TIỂU HỌC" in text
    assert "Tiếng Việt" in text and profile.show(t.subjects[0].year, scale="subject") in text
    assert profile.show(t.year_result, scale="result") in text and "KẾT LUẬN XÁC THỰC: HỢP LỆ" in text
    assert "Mức đạt được" in text and "Điểm KTĐK" in text and "Năng lực đặc thù" in text


def test_the_results_page_shows_levels_as_words_and_scores_as_written(rendered: dict[str, Path], profile):
    text = pdftools.pdftotext(rendered["5-3b"], "-f", "3", "-l", "3")
    t = content(_pupil("5"), profile)
    flat = re.sub(r"\s+", " ", text)
    for s in t.subjects:
        assert " ".join(s.name.split()[:2]) in flat  # a long name wraps in its cell
    words = set(re.findall(r"Chưa hoàn thành|Hoàn thành tốt|Hoàn thành(?! tốt)", text))
    assert words and words <= LEVEL_WORDS
    assert not re.search(r"\b\d+,\d\b", text)  # no marks with a decimal comma: primary has none


def test_the_rendering_is_deterministic(rendered: dict[str, Path], verifier: Verifier):
    source = _pupil("5")
    data = source.read_bytes()
    again = render_transcript(data, verification=verifier.verify_bytes(data, source.name).to_dict())
    assert again == rendered["5-3b"].read_bytes()


def test_grade_1_and_grade_5_pages_render_to_pictures(rendered: dict[str, Path]):
    """The pictures people look at (test-artifacts/primary/): the results and the summary
    pages of a grade-1 and a grade-5 transcript."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for grade in ("1", "5"):
        assert pdftools.pdfinfo(rendered[f"{grade}-3b"])["Pages"] == "5"
        for page in (3, 4):
            pngs = pdftools.render_png(rendered[f"{grade}-3b"], ARTIFACTS / f"grade{grade}-page{page}", dpi=80,
                                       page=page)
            assert pngs and pngs[0].stat().st_size > 20_000


# -- a trường liên cấp: one build, one site ------------------------------------------------

@pytest.fixture(scope="module")
def mixed_school(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("lien-cap")
    shutil.copytree(PRIMARY / "keys", out / "keys")
    generate_sample(SampleOptions(out=out, classes=2, students=3, seed="th",
                                  profile_id="hocba-1-tieuhoc,hocba-1-thcs"))
    return out


@pytest.fixture(scope="module")
def mixed_archive(mixed_school: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from archiver.pipeline.build import BuildOptions, build

    out = tmp_path_factory.mktemp("mixed") / "archive"
    result = build(BuildOptions(inputs=[mixed_school / "input"], out=out, trust_dir=mixed_school / "trust",
                                jobs=2, now=NOW, site=True))
    assert result.complete, result.problems
    _BUILDS[out] = result
    return out


_BUILDS: dict[Path, object] = {}


def test_one_build_gives_each_class_its_profile(mixed_archive: Path):
    from archiver.archive.check import check_archive
    from archiver.archive.records import PackageManifest

    expected = {"5A": ("hocba-1-tieuhoc", "Tiểu học"), "4A": ("hocba-1-tieuhoc", "Tiểu học"),
                "9A1": ("hocba-1-thcs", "THCS"), "8A1": ("hocba-1-thcs", "THCS")}
    bags = sorted(p for p in mixed_archive.iterdir() if (p / "bagit.txt").is_file())
    assert len(bags) == 4 and len({b.name.split("_")[0] for b in bags}) == 1  # one school
    for bag in bags:
        manifest = PackageManifest.read(bag)
        info = manifest.info
        assert (info.profile, info.level) == expected[info.class_name]
        for member in manifest.members:
            assert member.profile == info.profile
            report = json.loads((bag / member.files["report_json"]).read_text(encoding="utf-8"))
            assert report["profile"] == info.profile and report["verdict"] == "VALID"
        bag_info = (bag / "bag-info.txt").read_text(encoding="utf-8")
        assert f"Transcript-Profile: {info.profile}" in bag_info and f"Level: {info.level}" in bag_info
        label = pdftools.pdftotext(mixed_archive / f"{bag.name}.label.pdf")
        assert f"HỌC BẠ SỐ {info.level.upper()}" in label and f"Lớp {info.class_name} · {info.level}" in label
    index = json.loads((mixed_archive / "index.json").read_text(encoding="utf-8"))
    assert {p["class_name"]: (p["profile"], p["level"]) for p in index["packages"]} == expected
    assert len(index["schools"]) == 1
    report = json.loads((mixed_archive / "report.json").read_text(encoding="utf-8"))
    assert {p["class_name"]: p["level"] for p in report["packages"]} == {k: v[1] for k, v in expected.items()}
    assert "Tiểu học" in (mixed_archive / "report.html").read_text(encoding="utf-8")
    checked = check_archive(mixed_archive)
    assert checked.ok, checked.problems


def test_the_build_summary_names_each_class_level(mixed_archive: Path):
    from rich.console import Console

    from archiver.commands.progress import print_summary

    console = Console(record=True, width=140, force_terminal=False)
    print_summary(console, _BUILDS[mixed_archive])
    lines = console.export_text().splitlines()
    assert any("_5A" in line and "Tiểu học" in line for line in lines), lines
    assert any("_9A1" in line and "THCS" in line for line in lines), lines


def _page(mixed_archive: Path, class_name: str) -> str:
    return next((mixed_archive / "site" / "lop").glob(f"*_{class_name}.html")).read_text(encoding="utf-8")


def test_the_class_page_shows_levels_not_marks(mixed_archive: Path):
    primary = _page(mixed_archive, "5A")
    assert "Kết quả cuối năm học" in primary and "Tiểu học" in primary
    assert '<abbr title="Hoàn thành tốt">T</abbr>' in primary or '<abbr title="Hoàn thành">H</abbr>' in primary
    assert re.search(r"<td>(Hoàn thành xuất sắc|Hoàn thành tốt|Hoàn thành|Chưa hoàn thành)</td>", primary)
    assert "Đánh giá kết quả giáo dục" in primary
    assert not re.search(r">\d+,\d<", primary)  # no marks
    secondary = _page(mixed_archive, "9A1")  # the same school's lower-secondary class: marks
    assert re.search(r">\d+,\d<", secondary) and "Kết quả học tập" in secondary


def test_the_student_page_shows_the_primary_form(mixed_archive: Path):
    index = json.loads((mixed_archive / "index.json").read_text(encoding="utf-8"))
    entry = next(e for e in index["transcripts"] if e["class_name"] == "5A")
    page = mixed_archive / "site" / "hs" / f"{entry['school_code']}_{entry['school_year']}_5A" / \
        f"{entry['stem']}.html"
    html = page.read_text(encoding="utf-8")
    for text in ("Cuối HKI", "Điểm KT cuối năm", "Tiếng Việt", "Đánh giá kết quả giáo dục", "Năng lực đặc thù",
                 "Phẩm chất chủ yếu", "Giáo viên chủ nhiệm", "(Tiểu học)"):
        assert text in html, text
    assert set(re.findall(r'<td class="level[^"]*">([^<]*)</td>', html)) <= LEVEL_WORDS


@pytest.fixture(scope="module")
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    from .test_site import BROWSER_ARGS, CHROMIUM

    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed; run scripts/install.sh --test (apt-get install chromium)")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        yield b
        b.close()


def test_search_finds_a_primary_pupil_with_and_without_diacritics(mixed_archive: Path, browser):
    from .test_site import Recorder, search

    index = json.loads((mixed_archive / "index.json").read_text(encoding="utf-8"))
    pupil = next(e for e in index["transcripts"] if e["class_name"] == "4A")
    name = pupil["name"]
    folded = fold(name)  # no diacritics, đ as d
    assert folded.isascii() and folded != name.lower()
    same_name = sorted(e["name"] for e in index["transcripts"] if e["name"] == name)
    rec = Recorder(browser, viewport={"width": 1200, "height": 900})
    try:
        page = rec.page
        page.goto((mixed_archive / "site" / "index.html").as_uri())
        assert search(page, name) == same_name
        assert search(page, folded) == same_name
        assert search(page, unicodedata.normalize("NFD", name)) == same_name
        assert search(page, pupil["student_code"]) == [name]
        page.click("#results .hit-name")
        page.wait_for_load_state()
        assert page.title().startswith(name)
        assert "Đánh giá kết quả giáo dục" in page.inner_text("main")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "student-4A.png"), full_page=True)
        page.goto(next((mixed_archive / "site" / "lop").glob("*_5A.html")).as_uri())
        body = page.inner_text("main")
        assert "Kết quả cuối năm học" in body and "Hoàn thành" in body
        page.screenshot(path=str(ARTIFACTS / "class-5A.png"), full_page=True)
    finally:
        rec.close()


# -- a fourth profile ---------------------------------------------------------------------

def test_a_fourth_profile_is_a_new_folder_with_no_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A level with its own words and headings: only a copied and edited profile folder."""
    new = tmp_path / "profiles" / "hocba-1-thu"
    shutil.copytree(get_profile("hocba-1-tieuhoc").path, new)
    toml = (new / "profile.toml").read_text(encoding="utf-8")
    toml = (toml.replace('id = "hocba-1-tieuhoc"', 'id = "hocba-1-thu"')
            .replace('"/HocBa/DLHocBa/TTChung/CapHoc" = "TH"', '"/HocBa/DLHocBa/TTChung/CapHoc" = "THU"')
            .replace('level = "TH"', 'level = "THU"').replace('level_title = "TIỂU HỌC"', 'level_title = "THỬ NGHIỆM"')
            .replace('heading = "Mức đạt được"', 'heading = "Mức hoàn thành"'))
    (new / "profile.toml").write_text(toml, encoding="utf-8")
    subjects = (new / "subjects.toml").read_text(encoding="utf-8")
    (new / "subjects.toml").write_text(subjects.replace('T = "Hoàn thành tốt"', 'T = "Vượt yêu cầu"'),
                                       encoding="utf-8")
    monkeypatch.setenv("ARCHIVER_PROFILES", str(tmp_path / "profiles"))
    xml = EXAMPLE.read_bytes().replace(b"<CapHoc>TH</CapHoc>", b"<CapHoc>THU</CapHoc>")
    assert detect_profile(parse_bytes(xml).getroot(), available_profiles()).id == "hocba-1-thu"
    pdf = tmp_path / "thu.pdf"
    pdf.write_bytes(render_transcript(xml))
    text = re.sub(r"\s+", " ", pdftools.pdftotext(pdf))
    assert "THỬ NGHIỆM" in text and "Mức hoàn thành" in text and "Vượt yêu cầu" in text
    assert "hocba-1-thu" in text

    from archiver.site.pages import results_view

    profile = available_profiles()["hocba-1-thu"]
    view = results_view(read_transcript(parse_bytes(xml), profile), profile)
    assert "Vượt yêu cầu" in str(view["rows"][0][1])


def test_the_sample_command_takes_several_profiles(tmp_path: Path):
    from click.testing import CliRunner

    from archiver.cli import main

    shutil.copytree(PRIMARY / "keys", tmp_path / "keys")
    result = CliRunner().invoke(main, ["sample", "--out", str(tmp_path), "--classes", "1", "--students", "1",
                                       "--seed", "th", "--profile", "hocba-1-tieuhoc", "--profile", "hocba-1-thcs"])
    assert result.exit_code == 0, result.output
    assert "Trường Tiểu học và THCS Kim Đồng" in result.output
    assert "lớp 5A: 2 học bạ" in result.output and "lớp 9A1: 1 học bạ" in result.output
