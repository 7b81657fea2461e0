"""The newest message of each chat, as the bot's sends and the patients' messages show it."""

from __future__ import annotations

from typing import Any

import pytest

from bot.chatmarks import ChatMarks


def test_the_newest_message_of_a_chat_the_bot_sent_into_is_the_highest_seen_either_way() -> None:
    marks = ChatMarks()
    marks.note_sent(7, {"message_id": 10, "chat": {"id": 7}})  # the question
    marks.note_received(7, 11)  # the patient's message
    marks.note_sent(7, {"message_id": 12, "chat": {"id": 7}})  # the bot's reply
    marks.note_received(7, 9)  # one typed earlier, handled late

    assert marks.newest(7) == 12
    assert marks.newest(7, 3) == 12


def test_a_chat_the_bot_has_not_sent_into_since_it_started_has_no_mark() -> None:
    """Its messages from before the start are unknown: a press there counts from nothing."""
    marks = ChatMarks()
    marks.note_received(8, 40)

    assert marks.newest(8) is None
    assert marks.newest(8, 3) is None, "not from the pressed message alone"


def test_a_failed_send_forgets_the_chat_until_the_next_one() -> None:
    marks = ChatMarks()
    marks.note_sent(7, {"message_id": 10, "chat": {"id": 7}})
    marks.forget(7)  # timed out: Telegram may have delivered it as 11

    assert marks.newest(7) is None
    marks.note_sent(7, {"message_id": 12, "chat": {"id": 7}})
    assert marks.newest(7) == 12


def test_albums_and_copies_are_noted_in_the_chat_they_went_to() -> None:
    marks = ChatMarks()
    album = [{"message_id": 4, "chat": {"id": 7}}, {"message_id": 5, "chat": {"id": 7}}]
    marks.note_sent(7, album)
    marks.note_sent(9, {"message_id": 30})  # copyMessage: the new id alone
    marks.note_sent(9, True)  # a call that answers true names no message

    assert (marks.newest(7), marks.newest(9)) == (5, 30)


def test_the_chats_seen_longest_ago_are_forgotten_first() -> None:
    marks = ChatMarks(capacity=2)
    marks.note_sent(1, {"message_id": 10})
    marks.note_sent(2, {"message_id": 20})
    marks.note_received(1, 11)  # chat 1 seen again: chat 2 is now the oldest
    marks.note_sent(3, {"message_id": 30})

    assert (marks.newest(1), marks.newest(2), marks.newest(3)) == (11, None, 30)


async def test_the_gate_forgets_a_chat_whose_send_failed_and_notes_one_that_went_out() -> None:
    from telegram.error import NetworkError

    from bot.floods import ReplyGate

    gate = ReplyGate()

    async def sent() -> dict[str, object]:
        return {"message_id": 10, "chat": {"id": 7}}

    async def reset() -> dict[str, object]:
        raise NetworkError("Connection reset by peer")  # it may have arrived all the same

    await gate.process_request(sent, (), {}, "sendMessage", {"chat_id": 7}, None)
    assert gate.marks.newest(7) == 10
    with pytest.raises(NetworkError):
        await gate.process_request(reset, (), {}, "sendMessage", {"chat_id": 7}, None)
    assert gate.marks.newest(7) is None


def test_no_mark_is_used_while_another_instance_shares_the_bot() -> None:
    """It answers some of the chat's updates: this process's mark may miss its messages."""
    from types import SimpleNamespace

    from bot.chatmarks import newest_known
    from bot.floods import ReplyGate

    gate = ReplyGate()
    gate.marks.note_sent(7, {"message_id": 10, "chat": {"id": 7}})
    bot: Any = SimpleNamespace(rate_limiter=gate)
    sharing = False
    gate.budget = lambda: SimpleNamespace(sharing=lambda: sharing)  # type: ignore[assignment,return-value]

    assert newest_known(bot, 7) == 10
    sharing = True
    assert newest_known(bot, 7) is None
