"""The fake Bot API over real HTTP: the bot's own HTTPX transport talks to it unchanged."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputMediaPhoto, Update
from telegram.error import BadRequest, Forbidden
from telegram.ext import ApplicationBuilder, CommandHandler, ContextTypes
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.web import Application as TornadoApp
from tornado.web import RequestHandler

from fakebotapi import FakeBotApi
from fakebotapi.server import SECRET_HEADER, WebhookPusher, serve
from tests.deploy.conftest import free_port
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


async def test_an_album_over_http_arrives_as_telegram_receives_it(
    served: tuple[FakeBotApi, str],
) -> None:
    api, base_url = served
    api.sent_file("form-1", "photo")
    api.sent_file("form-2", "photo")
    application = ApplicationBuilder().token(TOKEN).base_url(base_url).build()
    async with application:
        sent = await application.bot.send_media_group(
            42,
            [
                InputMediaPhoto("form-1", caption="<b>1</b>", parse_mode="HTML"),
                InputMediaPhoto("form-2"),
            ],
        )
        assert [m.caption for m in sent] == ["1", None]
        api.forget_file("form-2")
        with pytest.raises(BadRequest, match=r"(?i)wrong file identifier"):
            await application.bot.send_media_group(
                42, [InputMediaPhoto("form-1"), InputMediaPhoto("form-2")]
            )
    assert [m.plain for m in api.messages(42)] == ["1", None]
    assert api.violations == []


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


# --- getUpdates and webhooks as Telegram does them ------------------------------------------

ALICE, BOB = User(101, "Alice"), User(102, "Bob")
PUBLIC_URL = "https://bot.example.org/telegram"
SECRET = "s3cret_hook"


async def test_a_poller_that_hangs_up_mid_long_poll_has_confirmed_its_offset(
    served: tuple[FakeBotApi, str],
) -> None:
    api, base_url = served
    api.poll_wait_cap = 5.0
    (pushed,) = api.push_updates([UpdateFactory(api).message(ALICE, "kept?")])
    async with httpx.AsyncClient(timeout=0.2) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.post(
                f"{base_url}{TOKEN}/getUpdates",
                json={"offset": pushed["update_id"] + 1, "timeout": 30},
            )
    # The server is still holding the long poll open; the batch is gone all the same.
    assert api.pending_updates == []
    assert api.confirmed_update_id == pushed["update_id"]


class _Receiver(RequestHandler):
    """A webhook endpoint that records what arrives and answers what the test tells it."""

    def initialize(self, box: dict[str, Any]) -> None:
        self.box = box

    async def post(self) -> None:
        update = json.loads(self.request.body)
        self.box["received"].append((update["update_id"], self.request.headers.get(SECRET_HEADER)))
        gate: asyncio.Event | None = self.box["gates"].get(update["update_id"])
        if gate is not None:
            await gate.wait()
        statuses: list[int] = self.box["statuses"].get(update["update_id"], [])
        self.set_status(statuses.pop(0) if statuses else 200)


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[dict[str, Any], str]]:
    box: dict[str, Any] = {"received": [], "gates": {}, "statuses": {}}
    server = HTTPServer(TornadoApp([(r"/hook", _Receiver, {"box": box})]))
    sockets = bind_sockets(0, "127.0.0.1")
    server.add_sockets(sockets)
    yield box, f"http://127.0.0.1:{sockets[0].getsockname()[1]}/hook"
    server.stop()
    await server.close_all_connections()


@pytest.fixture
async def pushing() -> AsyncIterator[tuple[FakeBotApi, WebhookPusher, str]]:
    api = FakeBotApi(poll_wait_cap=0.01)
    pusher = WebhookPusher(api, first_retry=0.02, max_retry=0.1)
    server, port = serve(api, webhooks=pusher)
    yield api, pusher, f"http://127.0.0.1:{port}/bot{TOKEN}"
    await pusher.close()
    server.stop()
    await server.close_all_connections()


async def call(api_url: str, method: str, **params: Any) -> httpx.Response:
    async with httpx.AsyncClient(timeout=5) as client:
        return await client.post(f"{api_url}/{method}", json=params)


async def until(condition: Callable[[], bool], what: str) -> None:
    deadline = asyncio.get_running_loop().time() + 5.0
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


async def test_the_webhook_gets_each_update_with_the_secret_again_until_it_answers_200(
    pushing: tuple[FakeBotApi, WebhookPusher, str], receiver: tuple[dict[str, Any], str]
) -> None:
    api, pusher, url = pushing
    box, hook = receiver
    updates = UpdateFactory(api)
    first, second, bobs = api.push_updates(
        [updates.message(ALICE, "1"), updates.message(ALICE, "2"), updates.message(BOB, "1")]
    )
    box["statuses"][first["update_id"]] = [500, 502]
    pusher.route(PUBLIC_URL, hook)
    answer = await call(url, "setWebhook", url=PUBLIC_URL, secret_token=SECRET)
    assert answer.json() == {"ok": True, "result": True}

    await until(lambda: api.pending_updates == [], "every update answered 200")
    ids = [update_id for update_id, _ in box["received"]]
    assert ids.count(first["update_id"]) == 3, "redelivered after each 5xx"
    assert ids.count(second["update_id"]) == ids.count(bobs["update_id"]) == 1
    assert ids.index(second["update_id"]) > ids.index(first["update_id"], 2), (
        "Alice's second waits until her first was answered 200"
    )
    assert ids.index(bobs["update_id"]) < ids.index(second["update_id"]), (
        "Bob's chat is not held up by Alice's"
    )
    assert {secret for _, secret in box["received"]} == {SECRET}
    assert [a.status for a in pusher.attempts].count(200) == 3
    info = (await call(url, "getWebhookInfo")).json()["result"]
    assert info["url"] == PUBLIC_URL
    assert info["last_error_message"] == "Wrong response from the webhook: 502"
    refused = await call(url, "getUpdates")
    assert refused.status_code == 409, "getUpdates is a conflict while a webhook is set"


async def test_a_chats_next_update_waits_for_the_one_in_flight(
    pushing: tuple[FakeBotApi, WebhookPusher, str], receiver: tuple[dict[str, Any], str]
) -> None:
    api, pusher, url = pushing
    box, hook = receiver
    updates = UpdateFactory(api)
    first, second, bobs = api.push_updates(
        [updates.message(ALICE, "1"), updates.message(ALICE, "2"), updates.message(BOB, "1")]
    )
    gate = box["gates"][first["update_id"]] = asyncio.Event()
    pusher.route(PUBLIC_URL, hook)
    await call(url, "setWebhook", url=PUBLIC_URL)

    await until(lambda: len(box["received"]) == 2, "Alice's first and Bob's")
    await asyncio.sleep(0.1)
    assert sorted(u for u, _ in box["received"]) == [first["update_id"], bobs["update_id"]]
    gate.set()
    await until(lambda: api.pending_updates == [], "Alice's second")
    assert box["received"][-1] == (second["update_id"], None), "no secret was set"


async def test_a_bot_that_is_down_gets_the_update_once_it_listens_again(
    pushing: tuple[FakeBotApi, WebhookPusher, str], receiver: tuple[dict[str, Any], str]
) -> None:
    api, pusher, url = pushing
    box, hook = receiver
    pusher.route(PUBLIC_URL, f"http://127.0.0.1:{free_port()}/hook")  # nothing listens
    await call(url, "setWebhook", url=PUBLIC_URL)
    (pushed,) = api.push_updates([UpdateFactory(api).message(ALICE, "are you there?")])

    await until(lambda: len(pusher.attempts) >= 3, "a few refused attempts")
    assert all(a.status is None for a in pusher.attempts)
    assert api.pending_updates == [pushed]
    pusher.route(PUBLIC_URL, hook)
    await until(lambda: api.pending_updates == [], "delivery once the bot listens")
    assert box["received"] == [(pushed["update_id"], None)]


async def test_delete_webhook_stops_deliveries_and_getupdates_takes_over(
    pushing: tuple[FakeBotApi, WebhookPusher, str], receiver: tuple[dict[str, Any], str]
) -> None:
    api, pusher, url = pushing
    box, hook = receiver
    pusher.route(PUBLIC_URL, hook)
    await call(url, "setWebhook", url=PUBLIC_URL)
    await call(url, "deleteWebhook")
    (pushed,) = api.push_updates([UpdateFactory(api).message(ALICE, "polling now")])

    await asyncio.sleep(0.2)
    assert box["received"] == []
    answer = (await call(url, "getUpdates")).json()
    assert [u["update_id"] for u in answer["result"]] == [pushed["update_id"]]


async def test_ptbs_own_webhook_server_is_served_by_the_fake(
    pushing: tuple[FakeBotApi, WebhookPusher, str],
) -> None:
    api, pusher, url = pushing
    base_url = url.removesuffix(TOKEN)
    application = ApplicationBuilder().token(TOKEN).base_url(base_url).build()

    async def hello(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text("hello over the webhook")

    application.add_handler(CommandHandler("hello", hello))
    port = free_port()
    pusher.route(PUBLIC_URL, f"http://127.0.0.1:{port}/telegram")
    async with application:
        assert application.updater is not None
        await application.updater.start_webhook(
            listen="127.0.0.1",
            port=port,
            url_path="telegram",
            webhook_url=PUBLIC_URL,
            secret_token=SECRET,
        )
        await application.start()
        api.push_update(UpdateFactory(api).command(ALICE, "/hello"))
        await until(lambda: bool(api.texts(ALICE.chat_id)), "the reply")
        await application.updater.stop()
        await application.stop()
    assert api.texts(ALICE.chat_id) == ["hello over the webhook"]
    assert api.violations == []
