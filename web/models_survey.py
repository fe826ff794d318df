"""The phone survey's flood window: how many refused answers an office's survey box has
recorded one by one in the current minute, and the ones summed since (``web.survey_flood``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from web.models import Base


class SurveyFloodWindow(Base):
    __tablename__ = "survey_flood_windows"
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"), primary_key=True)
    started_at: Mapped[datetime]
    logged: Mapped[int]  # refusals recorded one by one in this window
    summed: Mapped[dict] = mapped_column(JSON)  # clerk -> refusals past the limit, not yet written
