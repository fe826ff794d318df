"""hom-phieu: the digital satisfaction ballot box (hòm phiếu đánh giá sự hài lòng)."""

__version__ = "0.1.0"
