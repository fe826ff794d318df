"""The phone survey's detailed criteria: each office's own list, or the default set (the
criteria of the provinces' satisfaction surveys, in Vietnamese as offices word them)."""

from __future__ import annotations

from web.models import Office

DEFAULT_CRITERIA = (
    "Tiếp cận thông tin về thủ tục hành chính",
    "Thời gian và quy trình giải quyết",
    "Thái độ của công chức",
    "Sự hướng dẫn của công chức",
    "Kết quả giải quyết",
)


def criteria_of(office: Office) -> list[str]:
    return list(office.survey_criteria or DEFAULT_CRITERIA)
