"""Vietnamese names, places and phrases for realistic sample schools.

Family-name weights follow the commonly cited distribution (Nguyễn about 38 %, Trần
11 %, Lê 9.5 %, Phạm 7 %, ...). Everything here is invented test data.
"""

from __future__ import annotations

import random

FAMILY_NAMES = [
    ("Nguyễn", 38.4), ("Trần", 11.0), ("Lê", 9.5), ("Phạm", 7.1), ("Hoàng", 5.1),
    ("Huỳnh", 2.0), ("Phan", 4.5), ("Vũ", 3.9), ("Võ", 1.5), ("Đặng", 2.1), ("Bùi", 2.0),
    ("Đỗ", 1.4), ("Hồ", 1.3), ("Ngô", 1.3), ("Dương", 1.0), ("Lý", 0.5), ("Đinh", 0.6),
    ("Trịnh", 0.5), ("Đoàn", 0.5), ("Lương", 0.4), ("Tạ", 0.2), ("Mai", 0.3), ("Cao", 0.3),
]
MIDDLE_MALE = ["Văn", "Hữu", "Đức", "Minh", "Quang", "Thành", "Công", "Xuân", "Anh", "Gia",
               "Bảo", "Đăng", "Tuấn", "Hoàng", "Trung", "Quốc", "Mạnh", "Nhật"]
MIDDLE_FEMALE = ["Thị", "Ngọc", "Thu", "Thanh", "Phương", "Bảo", "Khánh", "Minh", "Hồng",
                 "Diệu", "Mai", "Thảo", "Quỳnh", "Hải", "Tuệ", "Yến", "Kim", "Như"]
GIVEN_MALE = ["An", "Bình", "Cường", "Dũng", "Đạt", "Đức", "Hải", "Hiếu", "Hoàng", "Hùng",
              "Huy", "Khang", "Khánh", "Khôi", "Kiên", "Lâm", "Long", "Minh", "Nam", "Nghĩa",
              "Nguyên", "Phong", "Phúc", "Quân", "Quang", "Sơn", "Tài", "Thắng", "Thịnh",
              "Toàn", "Trí", "Trung", "Tuấn", "Việt", "Vinh", "Vũ", "Duy", "Lộc", "Tiến",
              "Hưng", "Đăng", "Bảo", "Thái", "Nhật", "Quý"]
GIVEN_FEMALE = ["Anh", "Ánh", "Chi", "Diệp", "Dung", "Giang", "Hà", "Hằng", "Hạnh", "Hoa",
                "Huyền", "Hương", "Lan", "Linh", "Loan", "Ly", "Mai", "My", "Nga", "Ngân",
                "Ngọc", "Nhi", "Nhung", "Oanh", "Phương", "Quỳnh", "Thảo", "Thư", "Trang",
                "Trâm", "Uyên", "Vân", "Vy", "Yến", "Hiền", "Khuê", "Tâm", "Thuỷ", "Tú",
                "Lụa", "Mến", "Hậu", "Duyên", "Ánh Dương", "Bích"]

# (province, code of the citizen ID's first three digits, some districts)
PROVINCES = [
    ("Hà Nội", "001", ["Nam Từ Liêm", "Cầu Giấy", "Đống Đa", "Thanh Xuân", "Hoàng Mai", "Long Biên"]),
    ("Hải Phòng", "031", ["Dương Kinh", "Lê Chân", "Kiến An", "Thuỷ Nguyên"]),
    ("Nam Định", "036", ["Ý Yên", "Hải Hậu", "Giao Thuỷ", "Nghĩa Hưng"]),
    ("Ninh Bình", "037", ["Hoa Lư", "Gia Viễn", "Yên Khánh", "Kim Sơn"]),
    ("Thanh Hoá", "038", ["Sầm Sơn", "Hoằng Hoá", "Quảng Xương", "Thọ Xuân"]),
    ("Nghệ An", "040", ["Vinh", "Diễn Châu", "Quỳnh Lưu", "Nghi Lộc"]),
    ("Thừa Thiên Huế", "046", ["Phú Vang", "Hương Thuỷ", "Phong Điền"]),
    ("Đà Nẵng", "048", ["Hải Châu", "Thanh Khê", "Liên Chiểu", "Sơn Trà"]),
    ("Bình Dương", "074", ["Thuận An", "Dĩ An", "Phú Giáo", "Thủ Dầu Một"]),
    ("TP. Hồ Chí Minh", "079", ["Quận 1", "Bình Thạnh", "Gò Vấp", "Thủ Đức", "Tân Bình"]),
    ("Cần Thơ", "092", ["Ninh Kiều", "Cái Răng", "Bình Thuỷ"]),
]
# Most students are Kinh; the rest follow the larger minorities.
ETHNICITIES = [("Kinh", 85.0), ("Tày", 2.0), ("Thái", 2.0), ("Mường", 1.6), ("Khmer", 1.4),
               ("Hoa", 1.0), ("Nùng", 1.2), ("H'Mông", 1.4), ("Dao", 0.9), ("Ê Đê", 0.4)]
SCHOOL_NAMES = ["Đại An", "Anh Dũng", "Nguyễn Huệ", "Lê Quý Đôn", "Chu Văn An", "Trần Phú",
                "Quang Trung", "Ngô Quyền", "Lý Thường Kiệt", "Nguyễn Du", "Phan Bội Châu",
                "Hoàng Hoa Thám", "Kim Đồng", "Võ Thị Sáu", "Lương Thế Vinh", "Trưng Vương"]

QUALITIES = [("YN", "Yêu nước"), ("NA", "Nhân ái"), ("CC", "Chăm chỉ"), ("TT", "Trung thực"),
             ("TN", "Trách nhiệm")]
COMPETENCES = [("TCTH", "Tự chủ và tự học"), ("GTHT", "Giao tiếp và hợp tác"),
               ("GQVD", "Giải quyết vấn đề và sáng tạo")]

HOMEROOM_COMMENTS = {
    "Tốt": ["Chăm ngoan, học tập tiến bộ rõ rệt, tích cực tham gia hoạt động của lớp.",
            "Học lực tốt, có ý thức tự giác, là tấm gương cho các bạn trong lớp.",
            "Ngoan, lễ phép, học tập chăm chỉ và đạt kết quả cao. Cần phát huy.",
            "Tư duy nhanh, say mê học tập, hoà đồng với bạn bè."],
    "Khá": ["Có cố gắng trong học tập, cần chủ động hơn trong các môn khoa học.",
            "Ngoan, hiền, học tập khá; cần mạnh dạn phát biểu xây dựng bài.",
            "Có tiến bộ trong học kì II, cần duy trì nề nếp tự học ở nhà."],
    "Đạt": ["Cần cố gắng nhiều hơn, chú ý nghe giảng và hoàn thành bài tập đầy đủ.",
            "Học tập chưa đều giữa các môn, cần được gia đình quan tâm nhắc nhở thêm."],
    "Chưa đạt": ["Kết quả học tập chưa đạt yêu cầu, cần ôn tập trong hè và kiểm tra lại.",
                 "Còn lơ là trong học tập, cần sự phối hợp chặt chẽ của gia đình."],
}
SUBJECT_COMMENTS = ["Có năng khiếu, tư duy tốt.", "Tích cực phát biểu xây dựng bài.",
                    "Cần cẩn thận hơn khi làm bài.", "Tiến bộ rõ trong học kì II.",
                    "Nắm vững kiến thức cơ bản.", "Cần rèn thêm kĩ năng trình bày."]


def weighted(rng: random.Random, items: list[tuple[str, float]]) -> str:
    names, weights = zip(*items)
    return rng.choices(names, weights=weights, k=1)[0]


def person_name(rng: random.Random, female: bool) -> str:
    family = weighted(rng, FAMILY_NAMES)
    middle = rng.choice(MIDDLE_FEMALE if female else MIDDLE_MALE)
    given = rng.choice(GIVEN_FEMALE if female else GIVEN_MALE)
    if middle == given:
        middle = "Thị" if female else "Văn"
    return f"{family} {middle} {given}"


def citizen_id(rng: random.Random, province_code: str, female: bool, birth_year: int) -> str:
    """A 12-digit citizen ID shaped like the real ones: province, sex/century, year, serial."""
    century = 0 if birth_year < 2000 else 2
    return f"{province_code}{century + int(female)}{birth_year % 100:02d}{rng.randrange(10**6):06d}"
