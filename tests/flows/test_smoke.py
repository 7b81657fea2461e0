"""The Application starts against a migrated database and answers /help."""

from tests.fakes.harness import Harness, patient


async def test_help_lists_the_patient_commands(harness: Harness) -> None:
    alice = patient(1)
    await harness.command(alice, "/help")
    assert "/tasks" in harness.last_text(alice.chat_id)
