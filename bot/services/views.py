"""Plain data the services hand to the Telegram layer: never ORM rows, never Telegram objects."""

from __future__ import annotations

from datetime import datetime

from bot.frozen import frozen


@frozen
class PromptView:
    """Everything needed to write a due prompt or a reminder for one delivery."""

    delivery_id: int
    chat_id: int
    task_id: int
    task_title: str
    due_at: datetime  # UTC
    zone: str  # the patient's effective IANA zone, for showing due_at as local time
    question_count: int
    expires_at: datetime  # UTC
    reminder_number: int = 0  # 0 for the first prompt, 1.. for reminders
    started: bool = False  # the patient already answered some questions
