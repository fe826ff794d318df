"""Errors are pages of the product in Vietnamese with a way back, on staff's and citizens'
addresses alike; the APIs keep answering in JSON; the box page says its state once."""

from __future__ import annotations

import pytest

from tests.web_helpers import login

FRAMEWORK = ("The requested URL", "Not Found</h1>", "Method Not Allowed", "Forbidden")


def page_of(response) -> str:
    text = response.get_data(as_text=True)
    assert not any(words in text for words in FRAMEWORK), text[:500]
    assert 'lang="vi"' in text and "Mã lỗi: " in text
    return text


@pytest.mark.parametrize(
    ("path", "status", "title", "back"),
    [
        ("/khong-co", 404, "Không có trang này", 'href="/"'),
        ("/public/khong-co", 404, "Không có trang này", "/public/results"),
        ("/public/receipt/", 404, "Không có trang này", "/public/receipt"),
        ("/s/demo/khong/co", 404, "Không có trang này", "/public/results"),
        ("/static/khong-co.css", 404, "Không có trang này", 'href="/"'),
        ("/logout", 405, "Không thể mở trực tiếp địa chỉ này", 'href="/"'),
    ],
)
def test_an_address_that_leads_nowhere_is_a_page_of_the_product(site, path, status, title, back):
    _app, client, _ids = site
    response = client.get(path)
    assert response.status_code == status
    text = page_of(response)
    assert title in text and back in text


def test_a_role_without_access_meets_a_vietnamese_403(site) -> None:
    _app, client, _ids = site
    login(client, "kt-dong")
    response = client.get("/reports")
    assert response.status_code == 403
    assert "Bạn không có quyền mở trang này" in page_of(response)


def test_a_form_without_its_token_is_a_vietnamese_400(site) -> None:
    app, client, _ids = site
    app.config["WTF_CSRF_ENABLED"] = True
    response = client.post("/login", data={"username": "admin", "password": "x"})
    assert response.status_code == 400
    assert "Biểu mẫu đã hết hạn" in page_of(response)


def test_too_large_and_unexpected_faults_are_pages_too(site) -> None:
    app, client, _ids = site

    def boom():
        raise RuntimeError("boom")

    app.add_url_rule("/boom", "boom", boom)  # (before the app's first request)
    app.config["MAX_CONTENT_LENGTH"] = 10
    response = client.post("/login", data={"username": "x" * 100})
    assert response.status_code == 413 and "Dữ liệu gửi lên quá lớn" in page_of(response)
    app.testing, app.config["PROPAGATE_EXCEPTIONS"] = False, False
    response = client.get("/boom")
    assert response.status_code == 500 and "Máy chủ gặp lỗi" in page_of(response)


def test_the_apis_keep_json_errors(site) -> None:
    _app, client, _ids = site
    for path in ("/api/v1/khong-co", "/api/v1/config/"):
        response = client.get(path)
        assert response.status_code in (404, 405) and response.is_json, path
    response = client.delete("/api/v1/config")
    assert response.status_code == 405 and response.is_json


def test_a_sealed_box_page_says_its_due_day_and_that_it_is_overdue(site) -> None:
    _app, client, ids = site
    login(client, "kt-dong")
    text = client.get(f"/offices/{ids['dong']['office']}/boxes/2026-10").get_data(as_text=True)
    assert "Hạn mở: 30/10/2026; đã quá hạn từ 06/11/2026." in text
    assert "đã được mở" not in text
