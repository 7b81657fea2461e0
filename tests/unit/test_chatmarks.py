"""The newest message of each chat, as the bot's sends and the patients' updates show it."""

from __future__ import annotations

from bot.chatmarks import ChatMarks


def test_the_newest_message_of_a_chat_is_the_highest_seen_either_way() -> None:
    marks = ChatMarks()
    marks.note(7, 10)  # the patient's message
    marks.note_sent(7, {"message_id": 12, "chat": {"id": 7}})  # the bot's reply
    marks.note(7, 11)  # an edit of an older message, handled late

    assert marks.newest(7) == 12
    assert marks.newest(7, 3) == 12
    assert marks.newest(8) is None
    assert marks.newest(8, 3) == 3, "a chat not seen counts from the pressed message"


def test_albums_and_copies_are_noted_in_the_chat_they_went_to() -> None:
    marks = ChatMarks()
    album = [{"message_id": 4, "chat": {"id": 7}}, {"message_id": 5, "chat": {"id": 7}}]
    marks.note_sent(7, album)
    marks.note_sent(9, {"message_id": 30})  # copyMessage: the new id alone
    marks.note_sent(9, True)  # a call that answers true names no message

    assert (marks.newest(7), marks.newest(9)) == (5, 30)


def test_the_chats_seen_longest_ago_are_forgotten_first() -> None:
    marks = ChatMarks(capacity=2)
    marks.note(1, 10)
    marks.note(2, 20)
    marks.note(1, 11)  # chat 1 seen again: chat 2 is now the oldest
    marks.note(3, 30)

    assert (marks.newest(1), marks.newest(2), marks.newest(3)) == (11, None, 30)
