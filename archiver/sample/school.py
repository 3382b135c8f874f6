"""An invented school year: staff, classes, students and their results.

Secondary results follow Circular 22/2021: the year mark of a scored subject is
(HK1 + 2 x HK2) / 3 rounded to one decimal; learning results per term and for the year
follow Article 9 (Tốt / Khá / Đạt / Chưa đạt); titles follow Article 15; promotion
Article 16. A profile whose subjects are assessed by levels is a primary school: its
results follow Circular 27/2020 (:mod:`.primary`). Every value is drawn from a
``random.Random`` seeded per student, so a student's content does not depend on how the
work is split across processes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Callable
from decimal import ROUND_HALF_UP, Decimal

from lxml import etree

from ..profiles import Profile, Subject
from . import names, primary

RATINGS = ("Tốt", "Khá", "Đạt", "Chưa đạt")


@dataclass(frozen=True)
class Person:
    name: str
    female: bool
    birth_year: int
    citizen_id: str

    @property
    def key_name(self) -> str:
        return f"cccd-{self.citizen_id}"


@dataclass
class SchoolPlan:
    seed: str
    profile: Profile
    start_year: int
    school_code: str
    school_name: str
    province: str
    province_code: str
    district: str
    principal: Person
    teachers: dict[str, list[Person]]  # subject code -> teachers of that subject
    classes: list["ClassPlan"] = field(default_factory=list)

    @property
    def school_year(self) -> str:
        return f"{self.start_year}-{self.start_year + 1}"

    @property
    def end_year(self) -> int:
        return self.start_year + 1

    @property
    def org_uid(self) -> str:
        return f"MNS:{self.school_code}"


@dataclass
class ClassPlan:
    name: str
    grade: int
    homeroom: Person
    subjects: list[Subject]
    subject_teachers: dict[str, Person]
    student_count: int
    index: int


@dataclass
class SubjectMarks:
    subject: Subject
    element_id: str
    term1: str
    term2: str
    year: str
    comment: str | None
    teacher: Person
    signs: bool = True  # the subject teacher signs the subject (GVBM); else the homeroom teacher covers it
    term1_score: str | None = None  # primary: periodic test scores, where the grade has tests
    year_score: str | None = None


@dataclass
class StudentRecord:
    lookup_code: str
    student_code: str
    person: Person
    ethnicity: str
    birth_place: str
    birth_date: str
    father: str | None
    mother: str | None
    marks: list[SubjectMarks]
    learning: tuple[str, str, str]
    conduct: tuple[str, str, str]
    days_absent: int
    promotion: str
    title: str | None
    qualities: list[tuple[str, str, str]]
    competences: list[tuple[str, str, str]]
    homeroom_comment: str
    replaces: tuple[str, str] | None = None  # (lookup code, reason)
    year_result: str = ""  # primary: HTXS, HTT, HT, CHT (learning and conduct stay empty)


def by_levels(profile: Profile) -> bool:
    """A profile whose subjects are assessed by levels: a primary school (Circular 27)."""
    return any(s.assessment == "level" for s in profile.subjects)


def round1(value: float) -> str:
    return str(Decimal(str(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def year_mark(term1: str, term2: str) -> str:
    return str(((Decimal(term1) + 2 * Decimal(term2)) / 3).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def learning_result(scores: list[float], comments: list[str]) -> str:
    """Circular 22 Art. 9: the learning result of a term or of the year."""
    if all(c == "Đ" for c in comments):
        if all(s >= 6.5 for s in scores) and sum(s >= 8.0 for s in scores) >= 6:
            return "Tốt"
        if all(s >= 5.0 for s in scores) and sum(s >= 6.5 for s in scores) >= 6:
            return "Khá"
    if sum(c == "CĐ" for c in comments) <= 1 and sum(s >= 5.0 for s in scores) >= 6 and all(s >= 3.5 for s in scores):
        return "Đạt"
    return "Chưa đạt"


def plan_school(profile: Profile, seed: str, school_year: str, classes: int, students: int,
                levels: tuple[Profile, ...] = ()) -> SchoolPlan:
    """The school's staff and classes. ``levels``: every profile of a school that teaches
    several levels (a trường liên cấp), whose name names them all; the school's identity
    (code, place, principal, teachers) depends on the seed alone, so each level's plan is
    the same school."""
    rng = random.Random(f"{seed}/school")
    start_year = int(school_year.split("-")[0])
    province, province_code, districts = rng.choice(names.PROVINCES)
    district = rng.choice(districts)
    prefix = str(profile.sample.get("school_prefix") or f"Trường {profile.level}")
    if len(levels) > 1:
        prefix = "Trường " + " và ".join(p.level_name or p.level for p in levels)
    school_name = f"{prefix} {rng.choice(names.SCHOOL_NAMES)}"
    school_code = f"{province_code[1:]}{rng.randrange(10**5):05d}"

    def staff(tag: str) -> Person:
        r = random.Random(f"{seed}/staff/{tag}")
        female = r.random() < 0.7  # most teachers in Vietnam are women
        birth_year = r.randint(1968, 1998)
        return Person(names.person_name(r, female), female, birth_year,
                      names.citizen_id(r, province_code, female, birth_year))

    # One teacher of each subject per four classes, at least one.
    per_subject = max(1, -(-classes // 4))
    teachers = {s.code: [staff(f"{s.code}/{i}") for i in range(per_subject)] for s in profile.subjects
                if s.teacher == "subject"}
    plan = SchoolPlan(
        seed=seed, profile=profile, start_year=start_year, school_code=school_code,
        school_name=school_name, province=province, province_code=province_code,
        district=district, principal=staff("principal"), teachers=teachers,
    )
    grades = list(profile.grades)
    required = [s for s in profile.subjects if s.required]
    electives = [s for s in profile.subjects if not s.required]
    homerooms: set[str] = set()
    pattern = str(profile.sample.get("class_name") or "{grade}A{number}")
    for index in range(classes):
        grade = grades[-1 - index % len(grades)]  # final-year classes first
        number = index // len(grades) + 1
        name = pattern.format(grade=grade, number=number, letter=_letters(number))
        crng = random.Random(f"{seed}/class/{name}")
        chosen = required + sorted(crng.sample(electives, profile.electives),
                                   key=profile.subjects.index) if electives else required
        chosen = [s for s in chosen if s.in_grade(grade)]
        subject_teachers = {s.code: teachers[s.code][index % per_subject] for s in chosen if s.code in teachers}
        if any(s.teacher == "homeroom" for s in chosen):
            # Primary school: the class's own teacher is its homeroom teacher and teaches
            # most of its subjects.
            homeroom = primary.homeroom_teacher(seed, name, province_code, Person)
            subject_teachers.update({s.code: homeroom for s in chosen if s.teacher == "homeroom"})
            subject_teachers = {s.code: subject_teachers[s.code] for s in chosen}
        else:
            # The homeroom teacher teaches the class and leads no other class when possible.
            candidates = [t for t in subject_teachers.values() if t.citizen_id not in homerooms]
            homeroom = crng.choice(candidates or list(subject_teachers.values()))
        homerooms.add(homeroom.citizen_id)
        plan.classes.append(ClassPlan(name=name, grade=grade, homeroom=homeroom, subjects=chosen,
                                      subject_teachers=subject_teachers, student_count=students,
                                      index=index))
    return plan


def _letters(number: int) -> str:
    """1 -> A, 2 -> B, …, 27 -> AA: classes 5A, 5B, …"""
    out = ""
    while number > 0:
        number, rest = divmod(number - 1, 26)
        out = chr(65 + rest) + out
    return out


def make_student(plan: SchoolPlan, cls: ClassPlan, number: int, *, tag: str = "") -> StudentRecord:
    rng = random.Random(f"{plan.seed}/student/{cls.name}/{number}{tag}")
    female = rng.random() < 0.49
    birth_year = plan.end_year - cls.grade - 6
    person = Person(names.person_name(rng, female), female, birth_year,
                    names.citizen_id(rng, plan.province_code, female, birth_year))
    if by_levels(plan.profile):
        return _primary_student(plan, cls, rng, person, birth_year)
    ability = min(9.6, max(3.8, rng.gauss(7.2, 1.15)))
    marks: list[SubjectMarks] = []
    for subject in cls.subjects:
        teacher = cls.subject_teachers[subject.code]
        element_id = f"MH-{subject.code}"
        comment = rng.choice(names.SUBJECT_COMMENTS) if rng.random() < 0.15 else None
        if subject.assessment == "score":
            t1 = min(10.0, max(0.0, rng.gauss(ability + rng.uniform(-0.6, 0.6), 0.7)))
            t2 = min(10.0, max(0.0, rng.gauss(t1 + 0.15, 0.5)))
            s1, s2 = round1(t1), round1(t2)
            marks.append(SubjectMarks(subject, element_id, s1, s2, year_mark(s1, s2), comment, teacher))
        else:
            passed = ability > 4.2 or rng.random() < 0.5
            m1 = "Đ" if passed or rng.random() < 0.5 else "CĐ"
            m2 = "Đ" if passed else "CĐ"
            marks.append(SubjectMarks(subject, element_id, m1, m2, m2, comment, teacher))

    def result(attr: str) -> str:
        scored = [float(getattr(m, attr)) for m in marks if m.subject.assessment == "score"]
        commented = [getattr(m, attr) for m in marks if m.subject.assessment == "comment"]
        return learning_result(scored, commented)

    learning = (result("term1"), result("term2"), result("year"))
    conduct_year = names.weighted(rng, [("Tốt", 78), ("Khá", 17), ("Đạt", 4.5), ("Chưa đạt", 0.5)])
    conduct = (names.weighted(rng, [("Tốt", 70), ("Khá", 25), ("Đạt", 5)]),
               conduct_year, conduct_year)
    days_absent = min(20, int(rng.expovariate(0.4)))
    final_grade = cls.grade == plan.profile.grades[-1]
    if learning[2] == "Chưa đạt":
        promotion = "Kiểm tra lại trong hè"
    elif conduct[2] == "Chưa đạt":
        promotion = "Rèn luyện trong kì nghỉ hè"
    else:
        promotion = "Hoàn thành chương trình lớp học" if final_grade else "Được lên lớp"
    title = None
    if learning[2] == "Tốt" and conduct[2] == "Tốt":
        excellent = sum(float(m.year) >= 9.0 for m in marks if m.subject.assessment == "score") >= 6
        title = "Học sinh Xuất sắc" if excellent else "Học sinh Giỏi"

    def level(base: str) -> str:
        i = RATINGS.index(base) if base != "Chưa đạt" else 2
        return RATINGS[min(2, max(0, i + rng.choice((-1, 0, 0, 0, 1))))]

    qualities = [(q.code, q.name) for q in plan.profile.qualities] or names.QUALITIES
    competences = [(c.code, c.name) for c in plan.profile.competences] or names.COMPETENCES
    return _personal(plan, rng, person, birth_year, lambda: dict(
        marks=marks,
        learning=learning,
        conduct=conduct,
        days_absent=days_absent,
        promotion=promotion,
        title=title,
        qualities=[(c, n, level(conduct[2])) for c, n in qualities],
        competences=[(c, n, level(learning[2])) for c, n in competences],
        homeroom_comment=rng.choice(names.HOMEROOM_COMMENTS[learning[2]]),
    ))


def _primary_student(plan: SchoolPlan, cls: ClassPlan, rng: random.Random, person: Person,
                     birth_year: int) -> StudentRecord:
    marks, qualities, competences, result, award, promotion, comment = primary.make_results(
        rng, plan, cls, SubjectMarks)
    days_absent = min(15, int(rng.expovariate(0.5)))
    return _personal(plan, rng, person, birth_year, lambda: dict(
        marks=marks, learning=("", "", ""), conduct=("", "", ""), days_absent=days_absent,
        promotion=promotion, title=award, qualities=qualities, competences=competences,
        homeroom_comment=comment, year_result=result))


def _personal(plan: SchoolPlan, rng: random.Random, person: Person, birth_year: int,
              results: Callable[[], dict]) -> StudentRecord:
    """The record: the personal facts, then what ``results`` draws last (the order of the
    draws is what makes a seed give the same school again)."""
    province, _, districts = rng.choice(names.PROVINCES)
    month, day = rng.randint(1, 12), rng.randint(1, 28)
    father = names.person_name(rng, False) if rng.random() < 0.95 else None
    mother = names.person_name(rng, True) if rng.random() < 0.97 else None
    if father:  # children carry the father's family name
        person = Person(father.split()[0] + person.name[person.name.index(" "):], person.female,
                        person.birth_year, person.citizen_id)
    lookup_code = f"{rng.getrandbits(128):032x}"
    student_code = f"{plan.school_code[:2]}{rng.randrange(10**8):08d}"
    ethnicity = names.weighted(rng, names.ETHNICITIES)
    birth_place = f"{rng.choice(districts)}, {province}"
    return StudentRecord(
        lookup_code=lookup_code,
        student_code=student_code,
        person=person,
        ethnicity=ethnicity,
        birth_place=birth_place,
        birth_date=f"{birth_year}-{month:02d}-{day:02d}",
        father=father,
        mother=mother,
        **results(),
    )


def history(plan: SchoolPlan, cls: ClassPlan) -> list[tuple[str, str]]:
    """(school year, class) from the level's first grade up to this one."""
    first = plan.profile.grades[0]
    suffix = cls.name[len(str(cls.grade)):]
    return [
        (f"{plan.start_year - (cls.grade - g)}-{plan.end_year - (cls.grade - g)}", f"{g}{suffix}")
        for g in range(first, cls.grade + 1)
    ]


def signer_entries(plan: SchoolPlan, cls: ClassPlan, record: StudentRecord) -> list[tuple[str, str | None, str, str, str]]:
    """(role, subject, name, signer id, signature Id) for every required signature."""
    rows: list[tuple[str, str | None, str, str, str]] = [
        ("GVBM", m.subject.code, m.teacher.name, m.teacher.citizen_id, f"CKS-GVBM-{m.subject.code}")
        for m in record.marks if m.signs
    ]
    rows.append(("GVCN", None, cls.homeroom.name, cls.homeroom.citizen_id, "CKS-GVCN"))
    rows.append(("HT", None, plan.principal.name, plan.principal.citizen_id, "CKS-HT"))
    rows.append(("TC", None, plan.school_name, plan.org_uid, "CKS-TC"))
    return rows


def business_xml(plan: SchoolPlan, cls: ClassPlan, record: StudentRecord,
                 signers: list[tuple[str, str | None, str, str, str]]) -> bytes:
    """The signed data, ``DLHocBa``, serialised (no signatures)."""
    E = etree.Element

    def sub(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
        node = etree.SubElement(parent, tag, attrs)
        if text is not None:
            node.text = text
        return node

    dl = E("DLHocBa", Id="DLHocBa")
    tt = sub(dl, "TTChung")
    sub(tt, "MaTraCuu", record.lookup_code)
    sub(tt, "SoDangBo", f"{record.student_code}{plan.profile.register_suffix}")
    sub(tt, "CapHoc", plan.profile.level)
    sub(tt, "NamHoc", plan.school_year)
    sub(tt, "NgayHieuLuc", f"{plan.end_year}-06-30")
    school = sub(tt, "Truong")
    sub(school, "MaTruong", plan.school_code)
    sub(school, "TenTruong", plan.school_name)
    sub(school, "TinhTP", plan.province)
    if record.replaces:
        rep = sub(tt, "ThayTheCho")
        sub(rep, "MaTraCuu", record.replaces[0])
        sub(rep, "LyDo", record.replaces[1])
    hs = sub(dl, "HocSinh")
    sub(hs, "MaDinhDanh", record.person.citizen_id)
    sub(hs, "MaHocSinh", record.student_code)
    sub(hs, "HoTen", record.person.name)
    sub(hs, "NgaySinh", record.birth_date)
    sub(hs, "GioiTinh", "Nữ" if record.person.female else "Nam")
    sub(hs, "DanToc", record.ethnicity)
    sub(hs, "NoiSinh", record.birth_place)
    if record.father:
        sub(hs, "HoTenCha", record.father)
    if record.mother:
        sub(hs, "HoTenMe", record.mother)
    qt = sub(dl, "QuaTrinhHocTap")
    for year, class_name in history(plan, cls):
        sub(qt, "NamHocItem", NamHoc=year, Lop=class_name, TenTruong=plan.school_name)
    kq = sub(dl, "KetQua", NamHoc=plan.school_year, Lop=cls.name, Khoi=str(cls.grade))
    if by_levels(plan.profile):
        primary.results_xml(kq, record, sub)
    else:
        _results_xml(plan, kq, record, sub)
    ds = sub(dl, "DSTTKy")
    for role, subject, name, signer_id, sig_id in signers:
        attrs = {"VaiTro": role}
        if subject:
            attrs["MonHoc"] = subject
        attrs.update(HoTen=name, MaDinhDanh=signer_id, ChuKy=sig_id)
        sub(ds, "TTKy", **attrs)
    return etree.tostring(dl, encoding="UTF-8", xml_declaration=False)


def _results_xml(plan: SchoolPlan, kq: etree._Element, record: StudentRecord, sub) -> None:
    """The results of ``KetQua`` of a secondary transcript (spec section 1)."""
    bd = sub(kq, "BangDiem")
    values = plan.profile.field_map("assessment_values")
    for m in record.marks:
        mh = sub(bd, "MonHoc", Id=m.element_id, Ma=m.subject.code, Ten=m.subject.name,
                 HinhThuc=values[m.subject.assessment])
        sub(mh, "HK1", m.term1)
        sub(mh, "HK2", m.term2)
        sub(mh, "CaNam", m.year)
        if m.comment:
            sub(mh, "NhanXet", m.comment)
        sub(mh, "GiaoVien", m.teacher.name)
    tk = sub(kq, "TongKet")
    sub(tk, "KQHocTap", HK1=record.learning[0], HK2=record.learning[1], CaNam=record.learning[2])
    sub(tk, "KQRenLuyen", HK1=record.conduct[0], HK2=record.conduct[1], CaNam=record.conduct[2])
    sub(tk, "SoNgayNghi", str(record.days_absent))
    sub(tk, "LenLop", record.promotion)
    if record.title:
        sub(tk, "DanhHieu", record.title)
    nl = sub(kq, "NangLucPhamChat")
    for code, name, level in record.qualities:
        sub(nl, "PhamChat", Ma=code, Ten=name, MucDat=level)
    for code, name, level in record.competences:
        sub(nl, "NangLuc", Ma=code, Ten=name, MucDat=level)
    sub(kq, "NhanXetChung", record.homeroom_comment)
