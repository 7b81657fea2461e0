"""The fake Bot API behaves like Telegram for a real PTB Application, and is as strict."""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from telegram import (
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    InputMediaDocument,
    InputMediaPhoto,
    InputMediaVideo,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.error import (
    BadRequest,
    Conflict,
    EndPointNotFound,
    Forbidden,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from fakebotapi import (
    FakeBotApi,
    ForbiddenFault,
    NetworkFault,
    RetryAfterFault,
    ServerError,
    TimeoutFault,
    parse_html,
)
from tests.fakes.updates import UpdateFactory, User, as_update


def said(text: str) -> str:
    """Match a server description in an exception PTB has capitalised."""
    return "(?i)" + re.escape(text)


ALICE = User(101, "Alice", "Archer")
BOB = User(102, "Bob")
YES_NO = InlineKeyboardMarkup(
    [
        [InlineKeyboardButton("Yes", callback_data="a:1:yes")],
        [InlineKeyboardButton("No", callback_data="a:1:no")],
    ]
)


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Repeat what the person wrote, with a question under it."""
    assert update.effective_message is not None
    text = update.effective_message.text or ""
    await update.effective_message.reply_html(f"You said: <b>{text}</b>", reply_markup=YES_NO)


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Acknowledge the press and replace the question with the answer."""
    query = update.callback_query
    assert query is not None
    await query.answer("Saved")
    await query.edit_message_text(f"Answer: {query.data}")


async def on_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Greet with the deep-link payload."""
    assert update.effective_message is not None
    await update.effective_message.reply_text(f"start {' '.join(context.args or [])}")


def build_app(fake: FakeBotApi) -> Application:
    app = ApplicationBuilder().token("123:ABC").request(fake).get_updates_request(fake).build()
    app.add_handler(CommandHandler("start", on_start))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    app.add_handler(CallbackQueryHandler(on_button))
    return app


@pytest.fixture(autouse=True)
def ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    # PTB 22 warns whenever it builds a RetryAfter unless this opt-in is set, and warnings are
    # errors here.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
def fake() -> FakeBotApi:
    return FakeBotApi()


@pytest.fixture
def updates(fake: FakeBotApi) -> UpdateFactory:
    return UpdateFactory(fake)


@pytest.fixture
async def app(fake: FakeBotApi) -> AsyncIterator[Application]:
    application = build_app(fake)
    async with application:
        yield application


async def feed(app: Application, data: dict[str, Any]) -> None:
    await app.process_update(as_update(data, app.bot))


# --- a real Application through the fake ----------------------------------------------------


async def test_initialize_asks_get_me_for_the_configured_bot(
    app: Application, fake: FakeBotApi
) -> None:
    assert app.bot.id == 1000
    assert app.bot.username == "patientbot_test_bot"
    assert [c.method for c in fake.calls] == ["getMe"]


async def test_username_is_configurable() -> None:
    fake = FakeBotApi(bot_username="other_bot")
    async with build_app(fake) as app:
        assert app.bot.username == "other_bot"


async def test_echo_handler_reply_is_recorded(
    app: Application, fake: FakeBotApi, updates: UpdateFactory
) -> None:
    await feed(app, updates.message(ALICE, "20 press-ups"))

    assert fake.last_text(ALICE.id) == "You said: <b>20 press-ups</b>"
    assert fake.texts(BOB.id) == []
    [call] = fake.sent_to(ALICE.id)
    assert call.params["parse_mode"] == "HTML"
    [screen] = fake.messages(ALICE.id)
    assert screen.plain == "You said: 20 press-ups"
    assert screen.button_texts == ["Yes", "No"]
    assert fake.violations == []


async def test_returned_message_round_trips_through_ptb(app: Application) -> None:
    sent = await app.bot.send_message(
        ALICE.id, "<i>Rest</i> &amp; <b>ice</b> 💪", parse_mode="HTML", reply_markup=YES_NO
    )

    assert sent.text == "Rest & ice 💪"
    assert sent.text_html == "<i>Rest</i> &amp; <b>ice</b> 💪"
    assert sent.chat.type == "private"
    assert sent.from_user is not None and sent.from_user.id == 1000
    assert sent.reply_markup == YES_NO


async def test_command_carries_its_deep_link_payload(
    app: Application, fake: FakeBotApi, updates: UpdateFactory
) -> None:
    await feed(app, updates.command(ALICE, "/start", "ABC"))

    assert fake.last_text(ALICE.id) == "start ABC"


async def test_pressing_a_button_answers_and_edits_the_screen(
    app: Application, fake: FakeBotApi, updates: UpdateFactory
) -> None:
    await feed(app, updates.message(ALICE, "done"))
    await feed(app, updates.press(ALICE, "No"))

    [answer] = fake.calls_of("answerCallbackQuery")
    assert answer.params["text"] == "Saved"
    [screen] = fake.messages(ALICE.id)
    assert screen.text == "Answer: a:1:no"
    assert screen.edited
    # The edit did not pass reply_markup, so Telegram removed the keyboard.
    assert screen.reply_markup is None
    assert fake.violations == []


async def test_person_and_bot_share_message_ids_in_a_chat(
    app: Application, fake: FakeBotApi, updates: UpdateFactory
) -> None:
    first = updates.message(ALICE, "one")
    await feed(app, first)
    second = updates.message(ALICE, "two")

    bot_message = fake.messages(ALICE.id)[0].message_id
    assert first["message"]["message_id"] < bot_message < second["message"]["message_id"]


async def test_messages_from_many_tasks_get_distinct_ids(
    app: Application, fake: FakeBotApi
) -> None:
    await asyncio.gather(*(app.bot.send_message(ALICE.id, f"n{i}") for i in range(200)))

    ids = [m.message_id for m in fake.messages(ALICE.id)]
    assert sorted(ids) == list(range(1, 201))
    assert len(fake.sent_to(ALICE.id)) == 200


# --- message state --------------------------------------------------------------------------


async def test_editing_a_missing_message_is_refused(app: Application, fake: FakeBotApi) -> None:
    with pytest.raises(BadRequest, match=said("message to edit not found")):
        await app.bot.edit_message_text("x", chat_id=ALICE.id, message_id=99)
    assert fake.violations[0].method == "editMessageText"


async def test_editing_to_the_same_content_is_refused(app: Application) -> None:
    sent = await app.bot.send_message(
        ALICE.id, "<b>Same</b>", parse_mode="HTML", reply_markup=YES_NO
    )

    with pytest.raises(BadRequest, match=said("message is not modified")):
        await sent.edit_text("<strong>Same</strong>", parse_mode="HTML", reply_markup=YES_NO)
    with pytest.raises(BadRequest, match=said("message is not modified")):
        await sent.edit_reply_markup(YES_NO)
    await sent.edit_text("<b>Same</b>", parse_mode="HTML")  # dropping the keyboard is a change


async def test_a_message_the_person_deleted_can_no_longer_be_edited(
    app: Application, fake: FakeBotApi
) -> None:
    sent = await app.bot.send_message(ALICE.id, "Due now", reply_markup=YES_NO)
    fake.delete_by_person(ALICE.id, sent.message_id)

    assert fake.messages(ALICE.id) == []
    with pytest.raises(BadRequest, match=said("message to edit not found")):
        await sent.edit_text("Due now\n\nClosed")
    with pytest.raises(BadRequest, match=said("message to edit not found")):
        await sent.edit_reply_markup(None)


async def test_an_edit_without_reply_markup_takes_the_keyboard_off(
    app: Application, fake: FakeBotApi
) -> None:
    sent = await app.bot.send_message(ALICE.id, "Due now", reply_markup=YES_NO)

    await sent.edit_reply_markup(None)

    [screen] = fake.messages(ALICE.id)
    assert screen.buttons == [] and screen.plain == "Due now" and screen.edited
    with pytest.raises(BadRequest, match=said("message is not modified")):
        await sent.edit_reply_markup(None)


async def test_edit_reply_markup_replaces_the_keyboard(app: Application, fake: FakeBotApi) -> None:
    sent = await app.bot.send_message(ALICE.id, "Pick", reply_markup=YES_NO)
    other = InlineKeyboardMarkup([[InlineKeyboardButton("Skip", callback_data="skip")]])

    await sent.edit_reply_markup(other)

    [screen] = fake.messages(ALICE.id)
    assert screen.callback_data("Skip") == "skip"


async def test_deleted_message_leaves_the_screen(app: Application, fake: FakeBotApi) -> None:
    sent = await app.bot.send_message(ALICE.id, "gone soon")
    assert await sent.delete() is True

    assert fake.messages(ALICE.id) == []
    with pytest.raises(BadRequest, match=said("message to delete not found")):
        await sent.delete()


async def test_blocked_person_answers_forbidden(app: Application, fake: FakeBotApi) -> None:
    fake.block(ALICE.id)

    with pytest.raises(Forbidden, match=said("bot was blocked by the user")):
        await app.bot.send_message(ALICE.id, "hello")
    await app.bot.send_message(BOB.id, "hello")
    assert fake.sent_to(ALICE.id) == []
    assert fake.violations == []


async def test_callback_query_can_be_answered_once(app: Application) -> None:
    await app.bot.answer_callback_query("q1")
    with pytest.raises(BadRequest, match=said("query is too old")):
        await app.bot.answer_callback_query("q1")


# --- validation -----------------------------------------------------------------------------


def button(**kwargs: object) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(**kwargs)]])


@pytest.mark.parametrize(
    ("text", "kwargs", "error"),
    [
        ("", {}, "message text is empty"),
        ("   \n ", {}, "message text is empty"),
        ("x" * 4097, {}, "message is too long"),
        ("<b></b>", {"parse_mode": "HTML"}, "message text is empty"),
        ("<b>bold", {"parse_mode": "HTML"}, 'end tag corresponding to start tag "b"'),
        ("<b><i>x</b></i>", {"parse_mode": "HTML"}, 'expected "</i>", found "</b>"'),
        ("x</b>", {"parse_mode": "HTML"}, "Unexpected end tag"),
        ("<h1>Title</h1>", {"parse_mode": "HTML"}, 'Unsupported start tag "h1"'),
        ("<br/>", {"parse_mode": "HTML"}, 'Unsupported start tag "br/"'),
        ("pain < 5", {"parse_mode": "HTML"}, 'Unsupported start tag "" at byte offset 5'),
        ("<span>x</span>", {"parse_mode": "HTML"}, 'must have class "tg-spoiler"'),
        ("<b", {"parse_mode": "HTML"}, "Unclosed start tag"),
        ("Done.", {"parse_mode": "MarkdownV2"}, "Character '.' is reserved"),
        ("*bold", {"parse_mode": "MarkdownV2"}, "Can't find end of the entity"),
        ("hi", {"parse_mode": "html"}, "unsupported parse_mode"),
        ("hi", {"reply_markup": button(text="Go")}, "Text buttons are unallowed"),
        ("hi", {"reply_markup": button(text="", callback_data="x")}, "Text must be non-empty"),
        ("hi", {"reply_markup": button(text="Go", callback_data="é" * 33)}, "BUTTON_DATA_INVALID"),
        ("hi", {"reply_markup": button(text="Go", callback_data="")}, "BUTTON_DATA_INVALID"),
        ("hi", {"reply_markup": button(text="Go", url="ftp://x.org")}, "Unsupported URL protocol"),
        ("hi", {"reply_markup": button(text="Go", url="x.org")}, "Unsupported URL protocol"),
        (
            "hi",
            {"reply_markup": button(text="Go", url="https://x.org", callback_data="x")},
            "exactly one of the optional fields",
        ),
        (
            "hi",
            {
                "reply_markup": InlineKeyboardMarkup(
                    [[InlineKeyboardButton(str(i), callback_data=str(i)) for i in range(9)]]
                )
            },
            "reply markup is too long",
        ),
        (
            "hi",
            {"reply_markup": ReplyKeyboardMarkup([[" "]])},
            "keyboard button text must be non-empty",
        ),
    ],
)
async def test_send_message_refuses_what_telegram_refuses(
    app: Application,
    fake: FakeBotApi,
    text: str,
    kwargs: dict[str, object],
    error: str,
) -> None:
    with pytest.raises(BadRequest, match=said(error)):
        await app.bot.send_message(ALICE.id, text, **kwargs)

    [violation] = fake.violations
    assert violation.method == "sendMessage"
    assert error in violation.description
    assert fake.messages(ALICE.id) == []


@pytest.mark.parametrize(
    ("text", "kwargs"),
    [
        ("&amp;" * 4096, {"parse_mode": "HTML"}),  # 4096 characters once entities are decoded
        ("x" * 4096, {}),
        (
            "Rock &amp; roll &#128170; &#x1F4AA; AT&T &gt; 3 <a href='https://x.org/?a=1&amp;b=2'>link</a>",
            {"parse_mode": "HTML"},
        ),
        (
            '<span class="tg-spoiler">s</span><tg-spoiler>t</tg-spoiler>'
            "<blockquote expandable>q</blockquote>",
            {"parse_mode": "HTML"},
        ),
        ('<pre><code class="language-python">x = 1 &lt; 2</code></pre>', {"parse_mode": "HTML"}),
        ("Done\\. *Bold* _it_ [link](https://x.org/a_(b\\)) `a.b`", {"parse_mode": "MarkdownV2"}),
        ("hi", {"reply_markup": button(text="Go", callback_data="x" * 64)}),
        ("hi", {"reply_markup": button(text="Open", url="tg://resolve?domain=x")}),
        ("hi", {"reply_markup": ReplyKeyboardMarkup([["Yes", "No"]])}),
    ],
)
async def test_send_message_accepts_what_telegram_accepts(
    app: Application,
    fake: FakeBotApi,
    text: str,
    kwargs: dict[str, object],
) -> None:
    await app.bot.send_message(ALICE.id, text, **kwargs)
    assert fake.violations == []


def test_html_entities_use_utf16_offsets() -> None:
    plain, entities = parse_html('💪 <b>go</b> <a href="https://x.org">x</a>')

    assert plain == "💪 go x"
    assert entities == [
        {"type": "bold", "offset": 3, "length": 2},
        {"type": "text_link", "url": "https://x.org", "offset": 6, "length": 1},
    ]


async def test_edit_text_is_validated_like_a_send(app: Application) -> None:
    sent = await app.bot.send_message(ALICE.id, "ok")
    with pytest.raises(BadRequest, match=said("can't parse entities")):
        await sent.edit_text("<b>bad", parse_mode="HTML")
    with pytest.raises(BadRequest, match=said("inline keyboard expected")):
        await app.bot.edit_message_text(
            "new",
            chat_id=ALICE.id,
            message_id=sent.message_id,
            reply_markup=ReplyKeyboardMarkup([["a"]]),
        )


async def test_answer_text_is_limited_to_200_characters(
    app: Application, fake: FakeBotApi
) -> None:
    await app.bot.answer_callback_query("q1", text="x" * 200)
    with pytest.raises(BadRequest, match=said("MESSAGE_TOO_LONG")):
        await app.bot.answer_callback_query("q2", text="x" * 201)
    assert len(fake.violations) == 1


async def test_caption_is_limited_to_1024_characters(app: Application) -> None:
    await app.bot.send_document(ALICE.id, b"a", filename="a.txt", caption="x" * 1024)
    with pytest.raises(BadRequest, match=said("message caption is too long")):
        await app.bot.send_document(ALICE.id, b"a", filename="a.txt", caption="x" * 1025)
    with pytest.raises(BadRequest, match=said("message caption is too long")):
        await app.bot.send_photo(
            ALICE.id, b"a", caption="<b>" + "x" * 1025 + "</b>", parse_mode="HTML"
        )


async def test_document_needs_a_filename(app: Application) -> None:
    with pytest.raises(BadRequest, match=said("document filename is missing")):
        await app.bot.send_document(ALICE.id, b"a,b\n1,2\n")


async def test_unknown_file_id_is_refused(app: Application) -> None:
    with pytest.raises(BadRequest, match=said("wrong file identifier")):
        await app.bot.send_document(ALICE.id, "no-such-file")
    with pytest.raises(BadRequest, match=said("invalid file_id")):
        await app.bot.get_file("no-such-file")


async def test_chat_action_must_be_known(app: Application) -> None:
    assert await app.bot.send_chat_action(ALICE.id, "typing") is True
    with pytest.raises(BadRequest, match=said("wrong parameter action")):
        await app.bot.send_chat_action(ALICE.id, "dancing")


async def test_unknown_method_is_not_found(app: Application, fake: FakeBotApi) -> None:
    with pytest.raises(EndPointNotFound):
        await app.bot.do_api_request("sendTelepathy")
    assert fake.violations[0].description == "Not Found"


# --- files ----------------------------------------------------------------------------------


async def test_uploaded_document_is_recorded_and_downloadable(
    app: Application, fake: FakeBotApi
) -> None:
    sent = await app.bot.send_document(
        ALICE.id, b"week,done\n1,3\n", filename="report.csv", caption="Your week"
    )

    [call] = fake.sent_to(ALICE.id)
    assert call.files["document"]["filename"] == "report.csv"
    assert call.files["document"]["content"] == b"week,done\n1,3\n"
    assert sent.document is not None and sent.document.file_name == "report.csv"
    assert sent.caption == "Your week"
    assert fake.messages(ALICE.id)[0].file_name == "report.csv"
    file = await app.bot.get_file(sent.document.file_id)
    assert bytes(await file.download_as_bytearray()) == b"week,done\n1,3\n"


async def test_file_handles_are_read(app: Application, fake: FakeBotApi) -> None:
    await app.bot.send_document(
        ALICE.id, InputFile(io.BytesIO(b"abc"), filename="a.txt", read_file_handle=False)
    )
    assert fake.sent_to(ALICE.id)[0].files["document"]["content"] == b"abc"


async def test_photo_and_video_come_back_as_media(app: Application, fake: FakeBotApi) -> None:
    photo = await app.bot.send_photo(ALICE.id, b"\x89PNG", filename="form.png")
    video = await app.bot.send_video(ALICE.id, "https://example.org/press-up.mp4", caption="Watch")

    assert photo.photo[-1].width == 1280
    assert video.video is not None and video.caption == "Watch"
    assert [c.method for c in fake.sent_to(ALICE.id)] == ["sendPhoto", "sendVideo"]


async def test_an_album_of_photos_and_videos_comes_back_as_one_message_each(
    app: Application, fake: FakeBotApi
) -> None:
    fake.sent_file("form-photo", "photo")
    fake.sent_file("squat-video", "video")
    sent = await app.bot.send_media_group(
        ALICE.id,
        [
            InputMediaPhoto("form-photo", caption="<b>Alice</b> · form", parse_mode="HTML"),
            InputMediaVideo("squat-video", caption="Alice · squat"),
        ],
    )
    assert [m.caption for m in sent] == ["Alice · form", "Alice · squat"]
    assert sent[0].photo and sent[1].video is not None
    assert sent[0].media_group_id is not None
    assert sent[0].media_group_id == sent[1].media_group_id
    assert [m.plain for m in fake.messages(ALICE.id)] == ["Alice · form", "Alice · squat"]
    assert [c.method for c in fake.sent_to(ALICE.id)] == ["sendMediaGroup"]


async def test_an_album_is_refused_where_telegram_refuses_it(
    app: Application, fake: FakeBotApi
) -> None:
    fake.sent_file("form-photo", "photo")
    photo = InputMediaPhoto("form-photo")
    with pytest.raises(BadRequest, match=said("must include 2-10 items")):
        await app.bot.send_media_group(ALICE.id, [photo])
    with pytest.raises(BadRequest, match=said("must include 2-10 items")):
        await app.bot.send_media_group(ALICE.id, [photo] * 11)
    with pytest.raises(BadRequest, match=said("message caption is too long")):
        await app.bot.send_media_group(
            ALICE.id, [InputMediaPhoto("form-photo", "x" * 1025), photo]
        )
    with pytest.raises(BadRequest, match=said("wrong file identifier")):
        await app.bot.send_media_group(ALICE.id, [photo, InputMediaPhoto("no-such-file")])
    with pytest.raises(BadRequest, match=said("unsupported or missing media type")):
        await app.bot.send_media_group(ALICE.id, [photo, InputMediaDocument("form-photo")])
    assert len(fake.violations) == 5
    assert fake.messages(ALICE.id) == []


async def test_a_file_telegram_no_longer_has_answers_400_and_is_no_violation(
    app: Application, fake: FakeBotApi
) -> None:
    fake.sent_file("old-photo", "photo")
    fake.forget_file("old-photo")
    gone = "wrong file identifier/HTTP URL specified"
    with pytest.raises(BadRequest, match=said(gone)):
        await app.bot.send_photo(ALICE.id, "old-photo", caption="Alice")
    with pytest.raises(BadRequest, match=said(gone)):
        await app.bot.send_media_group(
            ALICE.id, [InputMediaPhoto("old-photo"), InputMediaPhoto("old-photo")]
        )
    assert fake.violations == []


async def test_an_uploaded_png_is_recorded_with_its_bytes_and_its_own_size(
    app: Application, fake: FakeBotApi
) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7.2, 8), dpi=150)
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    content = buffer.getvalue()

    photo = await app.bot.send_photo(ALICE.id, InputFile(content, filename="chart.png"))

    assert fake.calls_of("sendPhoto")[-1].files["photo"]["content"] == content
    assert (photo.photo[-1].width, photo.photo[-1].height) == (1080, 1200)
    assert (photo.photo[0].width, photo.photo[0].height) == (81, 90)
    file = await photo.photo[-1].get_file()
    assert bytes(await file.download_as_bytearray()) == content


async def test_a_file_the_person_sent_can_be_fetched(
    app: Application, fake: FakeBotApi, updates: UpdateFactory
) -> None:
    data = updates.photo(ALICE, "their-photo")
    fake.add_file("their-photo", b"jpeg bytes", "photo.jpg")

    update = as_update(data, app.bot)
    assert update.effective_message is not None
    file = await update.effective_message.photo[-1].get_file()
    assert bytes(await file.download_as_bytearray()) == b"jpeg bytes"


# --- commands and webhooks ------------------------------------------------------------------


async def test_commands_are_stored_per_scope(app: Application, fake: FakeBotApi) -> None:
    await app.bot.set_my_commands([BotCommand("start", "Begin"), BotCommand("help", "Help")])
    await app.bot.set_my_commands([BotCommand("report", "Report")], language_code="de")

    assert [c.command for c in await app.bot.get_my_commands()] == ["start", "help"]
    assert [c["command"] for c in fake.commands(language_code="de")] == ["report"]
    await app.bot.delete_my_commands()
    assert await app.bot.get_my_commands() == ()


@pytest.mark.parametrize(
    ("command", "description", "error"),
    [
        ("Start", "Begin", "BOT_COMMAND_INVALID"),
        ("x" * 33, "d", "BOT_COMMAND_INVALID"),
        ("start", "", "DESCRIPTION"),
    ],
)
async def test_bad_commands_are_refused(
    app: Application, command: str, description: str, error: str
) -> None:
    with pytest.raises(BadRequest, match=said(error)):
        await app.bot.set_my_commands([BotCommand(command, description)])


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("http://bot.example.org/hook", "An HTTPS URL must be provided for webhook"),
        ("https://bot.example.org:8080/hook", "only on ports 80, 88, 443 or 8443"),
        ("https://127.0.0.1:8443/hook", "IP address 127.0.0.1 is reserved"),
        ("https://10.1.2.3/hook", "IP address 10.1.2.3 is reserved"),
        ("bot.example.org/hook", "Failed to parse the URL"),
    ],
)
async def test_webhook_urls_telegram_refuses_are_refused(
    app: Application, url: str, error: str
) -> None:
    with pytest.raises(BadRequest, match=said(error)):
        await app.bot.set_webhook(url)


async def test_webhook_max_connections_must_be_1_to_100(app: Application) -> None:
    with pytest.raises(BadRequest, match="max_connections"):
        await app.bot.set_webhook("https://bot.example.org/hook", max_connections=101)
    assert await app.bot.set_webhook("https://bot.example.org:8443/hook", max_connections=1)
    assert (await app.bot.get_webhook_info()).max_connections == 1


async def test_a_self_hosted_server_takes_a_plain_http_webhook_on_any_port() -> None:
    fake = FakeBotApi(local_mode=True)
    async with build_app(fake) as app:
        assert await app.bot.set_webhook("http://127.0.0.1:8080/hook", secret_token="s3cret")
        info = await app.bot.get_webhook_info()
    assert info.url == "http://127.0.0.1:8080/hook"
    assert fake.webhook is not None and fake.webhook["secret_token"] == "s3cret"


async def test_webhook_heads_are_each_chats_oldest_update(
    fake: FakeBotApi, updates: UpdateFactory
) -> None:
    a1, b1, a2 = fake.push_updates(
        [updates.message(ALICE, "1"), updates.message(BOB, "1"), updates.message(ALICE, "2")]
    )
    assert fake.webhook_heads(set()) == [], "nothing goes out without a webhook"
    async with build_app(fake) as app:
        await app.bot.set_webhook("https://bot.example.org/hook")
    assert fake.webhook_heads(set()) == [(ALICE.id, a1), (BOB.id, b1)]
    assert fake.webhook_heads({ALICE.id}) == [(BOB.id, b1)], "Alice's first is still in flight"
    fake.webhook_delivered(a1["update_id"])
    assert fake.webhook_heads(set()) == [(BOB.id, b1), (ALICE.id, a2)], "in update_id order"


async def test_webhook_blocks_get_updates_until_deleted(
    app: Application, fake: FakeBotApi
) -> None:
    with pytest.raises(BadRequest, match=said("HTTPS URL must be provided")):
        await app.bot.set_webhook("http://bot.example.org/hook")
    assert await app.bot.set_webhook("https://bot.example.org/hook", secret_token="s3cret")
    assert (await app.bot.get_webhook_info()).url == "https://bot.example.org/hook"
    with pytest.raises(Conflict):
        await app.bot.get_updates()

    await app.bot.delete_webhook()
    assert await app.bot.get_updates() == ()
    assert await app.bot.close() is True
    assert await app.bot.log_out() is True


# --- faults ---------------------------------------------------------------------------------


async def test_retry_after_fault_raises_retry_after(app: Application, fake: FakeBotApi) -> None:
    fake.inject("sendMessage", RetryAfterFault(3))

    with pytest.raises(RetryAfter) as caught:
        await app.bot.send_message(ALICE.id, "hi")
    assert caught.value.retry_after == timedelta(seconds=3)
    await app.bot.send_message(ALICE.id, "hi")
    assert fake.fault_counts == {"retry_after": 1}
    assert [c.status for c in fake.calls_of("sendMessage")] == [429, 200]


@pytest.mark.parametrize(
    ("fault", "error", "message"),
    [
        (ServerError(502), NetworkError, "Bad Gateway"),
        (ServerError(500), NetworkError, "Internal Server Error"),
        (TimeoutFault(), TimedOut, "Timed out"),
        (NetworkFault(), NetworkError, "Connection reset by peer"),
        (ForbiddenFault(), Forbidden, "bot was blocked by the user"),
    ],
)
async def test_injected_faults_raise_what_ptb_raises(
    app: Application,
    fake: FakeBotApi,
    fault: object,
    error: type[Exception],
    message: str,
) -> None:
    fake.inject("sendMessage", fault, times=2)

    for _ in range(2):
        with pytest.raises(error, match=said(message)):
            await app.bot.send_message(ALICE.id, "hi")
    await app.bot.send_message(ALICE.id, "hi")

    assert fake.texts(ALICE.id) == ["hi"]
    assert sum(fake.fault_counts.values()) == 2
    assert fake.violations == []


async def test_faults_only_hit_their_method_in_order(app: Application, fake: FakeBotApi) -> None:
    fake.inject("sendDocument", ServerError(503))
    fake.inject(None, NetworkFault())

    with pytest.raises(NetworkError, match=said("reset")):
        await app.bot.send_message(ALICE.id, "first call of any method")
    with pytest.raises(NetworkError, match=said("Service Unavailable")):
        await app.bot.send_document(ALICE.id, b"x", filename="x.txt")
    assert fake.pending_faults == 0


async def test_a_timeout_after_delivery_leaves_the_message_sent(
    app: Application, fake: FakeBotApi
) -> None:
    fake.inject("sendMessage", TimeoutFault(delivered=True))

    with pytest.raises(TimedOut):
        await app.bot.send_message(ALICE.id, "did it arrive?")
    assert [m.text for m in fake.messages(ALICE.id)] == ["did it arrive?"]
    assert fake.calls_of("sendMessage")[0].status is None


async def test_random_faults_are_reproducible_from_the_seed() -> None:
    async def outcomes(seed: int) -> list[str]:
        fake = FakeBotApi(fault_rate=0.3, seed=seed)
        async with build_app(fake) as app:
            result = []
            for i in range(60):
                try:
                    await app.bot.send_message(ALICE.id, f"m{i}")
                    result.append("ok")
                except NetworkError as error:  # RetryAfter is not one; caught below
                    result.append(type(error).__name__)
                except RetryAfter:
                    result.append("RetryAfter")
            assert sum(fake.fault_counts.values()) == 60 - result.count("ok")
            return result

    first, again = await outcomes(7), await outcomes(7)
    assert first == again
    assert 5 < first.count("ok") < 55
    assert await outcomes(8) != first


# --- rate limits ----------------------------------------------------------------------------


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_overall_limit_answers_429_within_a_sliding_second() -> None:
    time = FakeTime()
    fake = FakeBotApi(limit_per_second=3, time_source=time)
    async with build_app(fake) as app:
        for i in range(3):
            await app.bot.send_message(ALICE.id + i, "ok")
            time.now += 0.3
        with pytest.raises(RetryAfter):
            await app.bot.send_message(BOB.id, "too soon")  # t=100.9: three in the window
        time.now += 0.11  # the first send (t=100.0) has left the window
        await app.bot.send_message(BOB.id, "ok")
    assert fake.rate_limited == 1
    assert fake.violations == []


async def test_per_chat_limit_is_separate_for_each_chat() -> None:
    time = FakeTime()
    fake = FakeBotApi(per_chat_per_second=1, time_source=time)
    async with build_app(fake) as app:
        await app.bot.send_message(ALICE.id, "one")
        with pytest.raises(RetryAfter):
            await app.bot.send_message(ALICE.id, "two")
        await app.bot.send_message(BOB.id, "one")
        time.now += 1.0
        await app.bot.send_message(ALICE.id, "two")
    assert fake.texts(ALICE.id) == ["one", "two"]
    assert fake.rate_limited == 1


# --- getUpdates -----------------------------------------------------------------------------


async def test_get_updates_honours_offset_and_limit(
    app: Application, fake: FakeBotApi, updates: UpdateFactory
) -> None:
    pushed = [fake.push_update(updates.message(ALICE, str(i))) for i in range(3)]
    ids = [u["update_id"] for u in pushed]

    assert [u.update_id for u in await app.bot.get_updates(limit=2)] == ids[:2]
    assert [u.update_id for u in await app.bot.get_updates(offset=ids[1])] == ids[1:]
    assert [u["update_id"] for u in fake.pending_updates] == ids[1:]  # the first is confirmed
    assert await app.bot.get_updates(offset=ids[2] + 1) == ()


async def test_ids_continue_after_those_a_restarted_bot_has_already_seen(
    app: Application, fake: FakeBotApi, updates: UpdateFactory
) -> None:
    fake.continue_after(update_id=41, message_id=70)
    update = updates.message(ALICE, "after the restart")
    del update["update_id"]  # the fake numbers it, as Telegram does
    assert fake.push_update(update)["update_id"] == 42
    assert update["message"]["message_id"] == 71  # the factory asks the fake's counter
    sent = await app.bot.send_message(ALICE.id, "and the answer")
    assert sent.message_id == 72
    assert (await app.bot.send_message(BOB.id, "another chat")).message_id == 71


async def test_an_offset_confirms_updates_as_the_request_arrives_not_when_it_answers(
    app: Application, fake: FakeBotApi, updates: UpdateFactory
) -> None:
    first, second = fake.push_updates(
        [updates.message(ALICE, "one"), updates.message(ALICE, "two")]
    )
    fake.poll_wait_cap = 5.0
    polling = asyncio.create_task(app.bot.get_updates(offset=second["update_id"] + 1, timeout=30))
    await asyncio.sleep(0.05)

    assert not polling.done(), "the long poll is still waiting for news"
    assert fake.pending_updates == [], "Telegram forgot the batch when the request arrived"
    assert fake.confirmed_update_id == second["update_id"]
    polling.cancel()  # the poller dies before any answer: the batch stays confirmed
    with pytest.raises(asyncio.CancelledError):
        await polling
    assert fake.pending_updates == []
    assert first["update_id"] < fake.confirmed_update_id


async def test_updates_not_confirmed_are_delivered_again(
    app: Application, fake: FakeBotApi, updates: UpdateFactory
) -> None:
    ids = [
        u["update_id"]
        for u in fake.push_updates([updates.message(ALICE, "a"), updates.message(BOB, "b")])
    ]

    assert [u.update_id for u in await app.bot.get_updates()] == ids
    assert [u.update_id for u in await app.bot.get_updates()] == ids, "no offset: all again"
    assert [u.update_id for u in await app.bot.get_updates(offset=ids[0] + 1)] == ids[1:]
    assert fake.confirmed_update_id == ids[0]


async def test_a_get_updates_that_never_arrived_confirms_nothing(
    app: Application, fake: FakeBotApi, updates: UpdateFactory
) -> None:
    (pushed,) = fake.push_updates([updates.message(ALICE, "kept")])
    after = pushed["update_id"] + 1
    fake.inject("getUpdates", TimeoutFault(delivered=False))
    with pytest.raises(TimedOut):
        await app.bot.get_updates(offset=after)
    assert fake.pending_updates == [pushed]

    # Arrived, but the answer was lost on the way back: confirmed all the same.
    fake.inject("getUpdates", TimeoutFault(delivered=True))
    with pytest.raises(TimedOut):
        await app.bot.get_updates(offset=after)
    assert fake.pending_updates == []


async def test_get_updates_refused_for_a_webhook_confirms_nothing(
    app: Application, fake: FakeBotApi, updates: UpdateFactory
) -> None:
    (pushed,) = fake.push_updates([updates.message(ALICE, "for the webhook")])
    await app.bot.set_webhook("https://bot.example.org/hook")
    with pytest.raises(Conflict):
        await app.bot.get_updates(offset=pushed["update_id"] + 1)
    assert fake.pending_updates == [pushed]
    assert (await app.bot.get_webhook_info()).pending_update_count == 1


async def test_an_intercepted_request_is_cut_in_flight_without_effect(
    app: Application, fake: FakeBotApi
) -> None:
    seen: list[str] = []

    def cut_sends_to_bob(call: Any) -> bool:
        seen.append(call.method)
        return call.method == "sendMessage" and call.chat_id == BOB.id

    fake.intercept = cut_sends_to_bob
    with pytest.raises(NetworkError):
        await app.bot.send_message(BOB.id, "lost on the way")
    await app.bot.send_message(ALICE.id, "arrives")

    assert seen == ["sendMessage", "sendMessage"]
    assert fake.texts(BOB.id) == []
    assert fake.texts(ALICE.id) == ["arrives"]
    assert [c.status for c in fake.calls_of("sendMessage")] == [None, 200]


async def test_long_poll_is_capped_and_woken_by_a_push(
    app: Application, fake: FakeBotApi, updates: UpdateFactory
) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await app.bot.get_updates(timeout=30) == ()
    assert loop.time() - started < 0.5

    fake.poll_wait_cap = 5.0
    waiting = asyncio.create_task(app.bot.get_updates(timeout=30))
    await asyncio.sleep(0.01)
    fake.push_update(updates.message(ALICE, "wake up"))
    result = await asyncio.wait_for(waiting, 1.0)
    assert [u.effective_message.text for u in result if u.effective_message] == ["wake up"]


async def test_polling_application_handles_a_pushed_update(
    fake: FakeBotApi, updates: UpdateFactory
) -> None:
    app = build_app(fake)
    async with app:
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0)
        await app.start()
        fake.push_update(updates.message(ALICE, "via polling"))
        for _ in range(100):
            if fake.texts(ALICE.id):
                break
            await asyncio.sleep(0.01)
        await app.updater.stop()
        await app.stop()

    assert fake.texts(ALICE.id) == ["You said: <b>via polling</b>"]
    assert fake.pending_updates == []  # PTB confirmed the offset on the way out
    assert fake.violations == []


# --- the update factory ---------------------------------------------------------------------


def test_factory_builds_every_kind_of_update() -> None:
    factory = UpdateFactory()
    built = [
        factory.message(ALICE, "hi"),
        factory.command(ALICE, "help"),
        factory.callback(ALICE, "a:1:yes", message_id=5),
        factory.photo(ALICE, "p1", caption="form"),
        factory.video(ALICE, "v1"),
        factory.sticker(ALICE),
        factory.voice(ALICE),
        factory.document(ALICE),
        factory.edited_message(ALICE, "fixed", message_id=1),
        factory.group_message(ALICE, "hello group"),
        factory.channel_post("news"),
    ]
    parsed = [as_update(data) for data in built]

    assert [u.update_id for u in parsed] == list(range(1, 12))
    message, command, callback, photo, video, sticker, voice, document, edited, group, post = (
        parsed
    )
    assert message.effective_chat is not None and message.effective_chat.id == ALICE.id
    assert command.message is not None and command.message.entities[0].type == "bot_command"
    assert callback.callback_query is not None and callback.callback_query.data == "a:1:yes"
    assert photo.message is not None and photo.message.photo[-1].file_id == "p1"
    assert video.message is not None and video.message.video is not None
    assert sticker.message is not None and sticker.message.sticker is not None
    assert voice.message is not None and voice.message.voice is not None
    assert document.message is not None and document.message.document is not None
    assert edited.edited_message is not None and edited.edited_message.text == "fixed"
    assert group.effective_chat is not None and group.effective_chat.type == "supergroup"
    assert post.channel_post is not None and post.channel_post.text == "news"
    assert message.effective_user is not None and message.effective_user.language_code == "en"


def test_factory_dates_follow_the_clock() -> None:
    from bot.clock import ManualClock
    from tests.fakes.updates import DEFAULT_DATE

    clock = ManualClock(DEFAULT_DATE)
    factory = UpdateFactory(clock=clock.now)
    clock.advance(timedelta(hours=2))

    update = as_update(factory.message(ALICE, "late"))
    assert update.message is not None
    assert update.message.date == DEFAULT_DATE + timedelta(hours=2)


async def test_press_needs_a_button_that_exists(fake: FakeBotApi, updates: UpdateFactory) -> None:
    with pytest.raises(LookupError, match=said("no message")):
        updates.press(ALICE, "Yes")
