"""Raw values in words: a kiosk's clock state, alert types and languages on the admin
pages, the server's error codes and network failures for a technician, the sync log."""

from __future__ import annotations

import errno
import logging
import socket

import pytest

from hom_phieu import formatting
from hom_phieu.i18n import language
from kiosk.sync_http import error_label, network_reason
from web.labels import alert_kind_label, language_label, time_quality_label


def test_labels_of_the_devices_alerts_and_accounts_pages_in_vietnamese() -> None:
    with language("vi"):
        assert time_quality_label("synced") == "đã đồng bộ"
        assert time_quality_label("anchored") == "theo giờ của máy chủ"
        assert time_quality_label("") == "—"  # a kiosk with no record yet
        assert alert_kind_label("equivocation") == "hai bản ghi khác nhau cùng một số thứ tự"
        assert alert_kind_label("clock_ahead") == "đồng hồ chạy trước máy chủ"
        assert language_label("vi") == "Tiếng Việt" and language_label("en") == "English"


def test_server_error_codes_and_network_failures_in_words() -> None:
    with language("vi"):
        assert error_label("bad-code") == "mã đăng ký không đúng"
        assert error_label("502") == "lỗi 502"
        refused = ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")
        assert network_reason(refused).startswith("kết nối bị từ chối")
        assert network_reason(socket.gaierror(-2, "Name or service not known")) == (
            "không tìm thấy tên máy chủ (DNS)"
        )
        assert network_reason(TimeoutError()) == "quá thời gian chờ trả lời"


@pytest.mark.parametrize(("seconds", "text"), [(0.8, "0,8"), (12.0, "12,0"), (0.75, "0,8")])
def test_decimal_comma(seconds: float, text: str) -> None:
    assert formatting.decimal(seconds) == text


def test_the_sync_log_line_speaks_vietnamese(caplog: pytest.LogCaptureFixture) -> None:
    from kiosk.sync_client import SyncClient
    from kiosk.sync_http import NetworkError

    client = SyncClient.__new__(SyncClient)  # only its failure report is used
    client._on_refusal = None
    client._set_status = lambda *args, **kwargs: None  # type: ignore[method-assign]
    with language("vi"), caplog.at_level(logging.WARNING, logger="kiosk.sync_client"):
        client._failed(NetworkError("không kết nối được"), 0.8)
    assert caplog.messages == ["đồng bộ: không kết nối được (thử lại sau 0,8 giây)"]
