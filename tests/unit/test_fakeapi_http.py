"""The fake Bot API over real HTTP: the bot's own HTTPX transport talks to it unchanged."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Forbidden
from telegram.ext import ApplicationBuilder, CommandHandler, ContextTypes

from bot.fakeapi import FakeBotApi
from bot.fakeapi_http import serve
from tests.fakes.updates import UpdateFactory, User

TOKEN = "123456:HTTP-TEST-TOKEN"


@pytest.fixture
async def served() -> AsyncIterator[tuple[FakeBotApi, str]]:
    api = FakeBotApi(poll_wait_cap=0.01)
    server, port = serve(api)
    yield api, f"http://127.0.0.1:{port}/bot"
    server.stop()
    await server.close_all_connections()


async def test_a_real_bot_sends_through_http_and_gets_validated(
    served: tuple[FakeBotApi, str],
) -> None:
    api, base_url = served
    application = ApplicationBuilder().token(TOKEN).base_url(base_url).build()
    async with application:
        me = await application.bot.get_me()
        assert me.username == "patientbot_test_bot"
        markup = InlineKeyboardMarkup([[InlineKeyboardButton("Yes", callback_data="a:1:2:y")]])
        sent = await application.bot.send_message(
            42, "<b>Question 1 of 3</b>", parse_mode="HTML", reply_markup=markup
        )
        assert sent.message_id == 1
        screen = api.messages(42)[0]
        assert screen.plain == "Question 1 of 3"
        assert screen.callback_data("Yes") == "a:1:2:y"
        with pytest.raises(BadRequest, match=r"(?i)can.t parse entities"):
            await application.bot.send_message(42, "<b>unclosed", parse_mode="HTML")
        api.block(43)
        with pytest.raises(Forbidden):
            await application.bot.send_message(43, "hello")
        await application.bot.send_document(42, b"a,b\n1,2\n", filename="export.csv")
    assert api.calls_of("sendDocument")[0].files["document"]["content"] == b"a,b\n1,2\n"


async def test_polling_over_http_delivers_a_pushed_update(
    served: tuple[FakeBotApi, str],
) -> None:
    api, base_url = served
    application = ApplicationBuilder().token(TOKEN).base_url(base_url).build()

    async def hello(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text("hello back")

    application.add_handler(CommandHandler("hello", hello))
    alice = User(101, "Alice")
    async with application:
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(poll_interval=0.0, timeout=1)
        api.push_update(UpdateFactory(api).command(alice, "/hello"))
        for _ in range(200):
            if api.texts(alice.chat_id):
                break
            await asyncio.sleep(0.01)
        await application.updater.stop()
        await application.stop()
    assert api.texts(alice.chat_id) == ["hello back"]
