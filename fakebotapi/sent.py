"""What a person's phone sends: the parts of a message update Telegram builds for the bot.

The tests' update factory and the playground both put these into updates, so a photo, a
video or a typed command looks the same to the bot wherever it comes from.
"""

from __future__ import annotations

from fakebotapi.records import JSON


def utf16_len(text: str) -> int:
    """A length as Telegram counts entity offsets: in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def command_entity(command: str) -> JSON:
    """The ``bot_command`` entity Telegram attaches to a message starting with ``command``."""
    return {"type": "bot_command", "offset": 0, "length": utf16_len(command)}


def photo_sizes(file_id: str) -> list[JSON]:
    """A phone camera's photo as Telegram offers it: a thumbnail and the full size."""
    return [
        {
            "file_id": f"{file_id}-small",
            "file_unique_id": f"u-{file_id}-small",
            "width": 90,
            "height": 68,
            "file_size": 1_204,
        },
        {
            "file_id": file_id,
            "file_unique_id": f"u-{file_id}",
            "width": 1280,
            "height": 960,
            "file_size": 98_304,
        },
    ]


def video(file_id: str, duration: int) -> JSON:
    """A phone's 720p video of ``duration`` seconds."""
    return {
        "file_id": file_id,
        "file_unique_id": f"u-{file_id}",
        "width": 1280,
        "height": 720,
        "duration": duration,
        "mime_type": "video/mp4",
        "file_size": 2_097_152,
    }
