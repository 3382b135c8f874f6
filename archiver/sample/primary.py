"""Primary-school content for sample schools: results by levels, as Circular 27/2020 sets them.

A pupil's subjects are the profile's subjects of the class's grade. Each subject gets a
level at the end of term 1 and of the year (T Hoàn thành tốt, H Hoàn thành, C Chưa hoàn
thành) and, where the grade has periodic tests, a test score 1-10 in keeping with its
level; the qualities and competences get T, Đ or C. The year's result then follows
Article 14, the award Article 15 and the promotion Article 16, so every transcript is
consistent with the regulation. Everything is drawn from the pupil's own seeded
``random.Random`` (see :mod:`.school`).
"""

from __future__ import annotations

import random

from lxml import etree

from . import names

# Circular 27/2020 Art. 14: the year's result from the subjects' year levels, the
# qualities' and competences' levels and the end-of-year test scores.
EXCELLENT, GOOD, DONE, NOT_DONE = "HTXS", "HTT", "HT", "CHT"
AWARD_EXCELLENT = "Học sinh Xuất sắc"  # Art. 15.1a
AWARD_EXEMPLARY = "Học sinh Tiêu biểu hoàn thành tốt trong học tập và rèn luyện"  # Art. 15.1b

SUBJECT_COMMENTS = {
    "TV": ["Đọc lưu loát, diễn cảm; viết đúng chính tả.", "Viết đoạn văn có ý, câu văn mạch lạc.",
           "Cần luyện đọc thêm và viết cẩn thận hơn.", "Kể chuyện tự tin, dùng từ phù hợp."],
    "TOAN": ["Tính toán nhanh, chính xác.", "Giải toán có lời văn thành thạo.",
             "Cần cẩn thận hơn khi đặt tính và trình bày bài.", "Nắm vững bảng nhân, chia."],
    "NN1": ["Phát âm chuẩn, mạnh dạn giao tiếp.", "Nhớ từ vựng tốt, cần luyện nghe thêm."],
    "THCN": ["Sử dụng máy tính thành thạo.", "Thực hành cẩn thận, sáng tạo."],
    "GDTC": ["Tích cực tập luyện, thực hiện đúng động tác.", "Có năng khiếu thể thao."],
    "AN": ["Hát đúng giai điệu, biểu diễn tự tin.", "Cảm nhận âm nhạc tốt."],
    "MT": ["Vẽ đẹp, phối màu hài hoà.", "Có ý tưởng sáng tạo trong sản phẩm."],
}
GENERAL_COMMENTS = ["Hoàn thành tốt các nội dung học tập.", "Tích cực xây dựng bài.",
                    "Có tiến bộ rõ trong học kì II.", "Cần chủ động hơn trong học tập."]
HOMEROOM_COMMENTS = {
    EXCELLENT: ["Chăm ngoan, học giỏi, là tấm gương sáng cho các bạn trong lớp.",
                "Tiếp thu bài nhanh, tự giác, sáng tạo; hoà đồng, giúp đỡ bạn bè."],
    GOOD: ["Ngoan, lễ phép, chăm chỉ học tập; tích cực tham gia các hoạt động của trường, lớp.",
           "Học tập tiến bộ, mạnh dạn phát biểu; biết giúp đỡ bạn bè."],
    DONE: ["Có cố gắng trong học tập; cần rèn thêm tính cẩn thận khi làm bài.",
           "Ngoan, hiền; cần mạnh dạn hơn và được gia đình quan tâm nhắc nhở thêm."],
    NOT_DONE: ["Chưa hoàn thành một số nội dung học tập; cần ôn tập trong hè với sự hỗ trợ của gia đình.",
               "Còn chậm trong học tập; cần được rèn luyện thêm trong kì nghỉ hè."],
}


def year_result(levels: list[str], assessed: list[str], tests: list[int]) -> str:
    """Circular 27/2020 Art. 14 from the subjects' year levels (T/H/C), the qualities'
    and competences' levels (T/Đ/C) and the end-of-year test scores."""
    if all(v == "T" for v in levels) and all(v == "T" for v in assessed):
        if all(s >= 9 for s in tests):
            return EXCELLENT
        if all(s >= 7 for s in tests):
            return GOOD
    if all(v in ("T", "H") for v in levels) and all(v in ("T", "Đ") for v in assessed) and all(s >= 5 for s in tests):
        return DONE
    return NOT_DONE


def promotion(levels: list[str], assessed: list[str], final_grade: bool) -> str:
    """Art. 16: the class's programme is complete when every subject is T or H and every
    quality and competence T or Đ; in grade 5 that completes primary school."""
    if all(v in ("T", "H") for v in levels) and all(v in ("T", "Đ") for v in assessed):
        return "Hoàn thành chương trình tiểu học" if final_grade else "Hoàn thành chương trình lớp học"
    return "Chưa hoàn thành chương trình lớp học"


def _level(aptitude: float) -> str:
    return "T" if aptitude >= 7.4 else "H" if aptitude >= 4.6 else "C"


def _score(rng: random.Random, aptitude: float, level: str) -> str:
    """A test score in keeping with the level it stands beside."""
    low, high = {"T": (7, 10), "H": (5, 8), "C": (2, 5)}[level]
    return str(min(high, max(low, round(rng.gauss(aptitude + 0.4, 1.0)))))


def make_results(rng: random.Random, plan, cls, marks_type):
    """(marks, qualities, competences, year result, award, promotion, comment) of one pupil.
    ``marks_type`` builds one subject's record (school.SubjectMarks)."""
    profile = plan.profile
    # Pupils' abilities, and how far a subject strays from them, tuned so that a school
    # gets roughly 15-20 % HTXS, 30 % HTT, 50 % HT and 1-2 % CHT.
    ability = min(9.8, max(4.0, rng.gauss(7.8, 1.2)))
    diligence = min(9.8, max(4.0, rng.gauss(ability + 0.3, 0.8)))
    marks = []
    for subject in cls.subjects:
        aptitude = ability + rng.uniform(-0.5, 0.5)
        year = _level(aptitude)
        term1 = _level(aptitude - 0.4 + rng.uniform(-0.6, 0.4))
        scores = (None, None)
        if subject.tested_in(cls.grade):
            scores = (_score(rng, aptitude - 0.3, term1), _score(rng, aptitude, year))
        pool = SUBJECT_COMMENTS.get(subject.code, GENERAL_COMMENTS)
        comment = rng.choice(pool) if rng.random() < 0.35 else None
        marks.append(marks_type(subject, f"MH-{subject.code}", term1, "", year, comment,
                                cls.subject_teachers[subject.code], signs=subject.teacher == "subject",
                                term1_score=scores[0], year_score=scores[1]))
    qualities = [(q.code, q.name, _assessed(rng, diligence)) for q in profile.qualities]
    competences = [(c.code, c.name, _assessed(rng, ability)) for c in profile.competences]
    levels = [m.year for m in marks]
    assessed = [level for _, _, level in qualities + competences]
    tests = [int(m.year_score) for m in marks if m.year_score]
    result = year_result(levels, assessed, tests)
    award = None
    if result == EXCELLENT:
        award = AWARD_EXCELLENT
    elif result == GOOD and (any(s == 10 for s in tests) or any(m.term1 != "T" for m in marks)):
        # outstanding in a subject, or clear progress over the year (Art. 15.1b)
        award = AWARD_EXEMPLARY
    final_grade = cls.grade == profile.grades[-1]
    return (marks, qualities, competences, result, award, promotion(levels, assessed, final_grade),
            rng.choice(HOMEROOM_COMMENTS[result]))


def _assessed(rng: random.Random, basis: float) -> str:
    value = basis + rng.uniform(-0.5, 0.4)
    return "T" if value >= 7.0 else "Đ" if value >= 4.4 else "C"


def results_xml(kq: etree._Element, record, sub) -> None:
    """The results of ``KetQua`` in the order of spec section 7: BangDiem, NangLucPhamChat,
    TongKet, NhanXetChung."""
    bd = sub(kq, "BangDiem")
    for m in record.marks:
        mh = sub(bd, "MonHoc", Id=m.element_id, Ma=m.subject.code, Ten=m.subject.name, HinhThuc="MucDat")
        sub(mh, "MucDatHK1", m.term1)
        sub(mh, "MucDatCN", m.year)
        if m.term1_score:
            sub(mh, "DiemHK1", m.term1_score)
        if m.year_score:
            sub(mh, "DiemCN", m.year_score)
        if m.comment:
            sub(mh, "NhanXet", m.comment)
        sub(mh, "GiaoVien", m.teacher.name)
    nl = sub(kq, "NangLucPhamChat")
    for code, name, level in record.qualities:
        sub(nl, "PhamChat", Ma=code, Ten=name, MucDat=level)
    for code, name, level in record.competences:
        sub(nl, "NangLuc", Ma=code, Ten=name, MucDat=level)
    tk = sub(kq, "TongKet")
    sub(tk, "DanhGia", record.year_result)
    sub(tk, "LenLop", record.promotion)
    if record.title:
        sub(tk, "KhenThuong", record.title)
    sub(tk, "SoNgayNghi", str(record.days_absent))
    sub(kq, "NhanXetChung", record.homeroom_comment)


def homeroom_teacher(seed: str, class_name: str, province_code: str, person_type):
    """The class's own teacher: in primary school the homeroom teacher teaches most subjects."""
    r = random.Random(f"{seed}/homeroom/{class_name}")
    female = r.random() < 0.85  # most primary teachers are women
    birth_year = r.randint(1968, 1998)
    return person_type(names.person_name(r, female), female, birth_year,
                       names.citizen_id(r, province_code, female, birth_year))
