"""Vietnamese wording of the rendering: verdicts, statuses, levels, dates.

Kept apart from the layout so a reviewer who reads Vietnamese can check every phrase in
one place. English glosses follow where an inspector from outside may read the page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..vn import VN


@dataclass(frozen=True)
class Verdict:
    code: str
    label: str  # shown large on the verification page and the cover
    label_en: str
    explanation: str
    colour: str  # hex sRGB; a PDF/A with an sRGB OutputIntent may use DeviceRGB


VERDICTS: dict[str, Verdict] = {
    "VALID": Verdict(
        "VALID", "HỢP LỆ", "Valid",
        "Mọi chữ ký số có tên trong danh sách người ký đều hợp lệ.",
        "#1b7a3a",
    ),
    "INVALID": Verdict(
        "INVALID", "KHÔNG HỢP LỆ", "Invalid",
        "Có chữ ký số không hợp lệ hoặc bị thiếu. Theo quy định, chỉ cần một bước kiểm tra "
        "không đạt thì học bạ không có giá trị.",
        "#b3261e",
    ),
    "INDETERMINATE": Verdict(
        "INDETERMINATE", "CHƯA XÁC ĐỊNH", "Indeterminate",
        "Không có chữ ký nào sai, nhưng chưa đủ căn cứ để kết luận (ví dụ: thiếu chuỗi "
        "chứng thư tin cậy hoặc dữ liệu thu hồi chứng thư).",
        "#a65f00",
    ),
    "REJECTED": Verdict(
        "REJECTED", "BỊ TỪ CHỐI", "Rejected",
        "Tệp không phải là học bạ đọc được theo định dạng đã cấu hình; nội dung dưới đây "
        "chỉ được hiển thị trong phạm vi dữ liệu cho phép.",
        "#7f1d1d",
    ),
}

NOT_VERIFIED = Verdict(
    "NOT_VERIFIED", "CHƯA XÁC THỰC", "Not verified",
    "Học bạ chưa được kiểm tra chữ ký số khi tạo bản thể hiện này. Hãy kiểm tra tệp XML "
    "gốc bằng công cụ xác thực trước khi sử dụng.",
    "#555555",
)

UNKNOWN_VERDICT_COLOUR = "#555555"
SUPERSEDED_COLOUR = "#6b3fa0"  # a replaced transcript: kept for the record, not in force

STATUSES: dict[str, tuple[str, str]] = {
    # ETSI EN 319 102-1 main indications -> (label, colour)
    "TOTAL_PASSED": ("Hợp lệ", "#1b7a3a"),
    "TOTAL_FAILED": ("Không hợp lệ", "#b3261e"),
    "INDETERMINATE": ("Chưa xác định", "#a65f00"),
}

SUB_INDICATIONS: dict[str, str] = {
    "FORMAT_FAILURE": "Chữ ký sai định dạng hoặc không trỏ đúng vùng dữ liệu",
    "HASH_FAILURE": "Nội dung không khớp với nội dung đã ký (bị sửa sau khi ký, hoặc ký sai cách)",
    "SIG_CRYPTO_FAILURE": "Giá trị chữ ký không đúng",
    "CRYPTO_CONSTRAINTS_FAILURE": "Thuật toán không được chính sách chấp nhận",
    "NO_CERTIFICATE_CHAIN_FOUND": "Không tìm thấy chuỗi chứng thư tới tổ chức tin cậy",
    "EXPIRED": "Chứng thư số đã hết hạn tại thời điểm ký",
    "NOT_YET_VALID": "Chứng thư số chưa có hiệu lực tại thời điểm ký",
    "REVOKED": "Chứng thư số đã bị thu hồi trước thời điểm ký",
    "REVOKED_NO_POE": "Chứng thư số bị thu hồi sau thời điểm ký, không có bằng chứng "
                      "tồn tại sớm hơn",
    "TRY_LATER": "Chưa có dữ liệu thu hồi chứng thư (CRL)",
    "OUT_OF_BOUNDS_NO_POE": "Chứng thư số đã hết hạn, không có bằng chứng tồn tại sớm hơn",
    "SIG_CONSTRAINTS_FAILURE": "Vai trò hoặc danh tính người ký không khớp danh sách người ký",
}

_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_ISO_DATETIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?(Z|[+-]\d{2}:?\d{2})?$"
)


def date_vi(value: str) -> str:
    """``2026-06-30`` -> ``30/06/2026``; anything else is shown as it is."""
    m = _ISO_DATE.match(value.strip())
    return f"{m.group(3)}/{m.group(2)}/{m.group(1)}" if m else value


def date_long_vi(value: str) -> str:
    """``2026-06-30`` -> ``ngày 30 tháng 6 năm 2026`` (the form's place-and-date line).
    Administrative style (Nghị định 30/2020): a leading zero for days below 10 and for
    months 1 and 2 only."""
    m = _ISO_DATE.match(value.strip())
    if not m:
        return "ngày … tháng … năm …"
    month = int(m.group(2))
    month_text = f"{month:02d}" if month < 3 else str(month)
    return f"ngày {int(m.group(3)):02d} tháng {month_text} năm {m.group(1)}"


def datetime_vn(value: str) -> str:
    """An instant with any UTC offset, shown in Vietnam time: ``2026-11-25T23:24:11+00:00``
    -> ``26/11/2026 06:24:11 (UTC+07:00)``. Values it cannot read are shown as they are."""
    import datetime as dt

    try:
        when = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        return value
    if when.tzinfo is None:
        return datetime_vi(value)
    when = when.astimezone(VN)
    return f"{when:%d/%m/%Y %H:%M:%S} (UTC+07:00)"


def datetime_vi(value: str, default_offset: str = "+07:00") -> str:
    """``2026-06-18T09:41:07`` -> ``18/06/2026 09:41:07 (UTC+07:00)``.

    A SigningTime without an offset is Vietnam time (spec section 2), so the offset is
    written out: a reader abroad must not take it for UTC.
    """
    m = _ISO_DATETIME.match(value.strip())
    if not m:
        return value
    year, month, day, hour, minute, second, offset = m.groups()
    offset = offset or default_offset
    if offset == "Z":
        offset = "+00:00"
    elif len(offset) == 5:
        offset = f"{offset[:3]}:{offset[3:]}"
    return f"{day}/{month}/{year} {hour}:{minute}:{second or '00'} (UTC{offset})"
