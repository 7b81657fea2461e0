"""One instance per database sends the fan-out; the lock passes on when its holder dies."""

from __future__ import annotations

from storage.db import Database, SenderLock


def test_one_instance_sends_and_a_dead_holders_lock_passes_on_at_once(
    database_url: str, backend: str
) -> None:
    first, second = Database(database_url), Database(database_url)
    try:
        holder, other = SenderLock(first), SenderLock(second)
        assert holder.hold()
        assert holder.hold(), "asking again keeps it"
        if backend == "sqlite":
            # One process by design: every instance sends, as before.
            assert other.hold()
            return
        assert not other.hold(), "while the holder lives, the other instance does not send"
        # The holder dies: its connection ends (as the kernel ends a killed process's socket).
        holder._connection.invalidate()
        assert other.hold(), "the next ask after the holder's death takes over"
        assert not holder.hold(), "the dead holder's successor keeps it"
        other.release()
        assert holder.hold(), "a clean stop lets the next asker in"
        holder.release()
    finally:
        first.dispose()
        second.dispose()
