"""Send the weekly digests the due scan finds due (``bot.services.digest`` plans and claims).

Called once per scan from ``bot.scheduler``; sends through the scan's pacer, so digests share
the bot's send budget with prompts.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from telegram import InputFile
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError

from bot import charts
from bot.context import DEPS_KEY, BotApplication, Deps
from bot.floods import paced
from bot.readers import chat_languages
from bot.sender import Pacer, retry_after_seconds
from bot.services import digest
from bot.texts import charts as texts_charts
from bot.texts.language import speaking

log = logging.getLogger(__name__)

# bot_data: the digests planned under an earlier configuration were moved to this one's time.
_RETIMED_KEY = "digests_retimed"


async def send_due(application: BotApplication, pacer: Pacer) -> int:
    """Plan the next digests, then send those due; return how many were sent."""
    deps: Deps = application.bot_data[DEPS_KEY]
    settings = deps.settings
    if not settings.digest.enabled:
        return 0
    schedule = digest.DigestSchedule(
        weekday=settings.digest.weekday_number,
        at=settings.digest.at,
        default_zone=settings.scheduler.default_timezone,
    )
    if not application.bot_data.get(_RETIMED_KEY):
        # Once a process: the configuration can only have changed before it started.
        moved = await deps.run(digest.retime_pending, deps.database, deps.clock.now(), schedule)
        if moved:
            log.info("weekly digests moved to the configured day and time: %d", moved)
        application.bot_data[_RETIMED_KEY] = True
    await deps.run(
        digest.plan, deps.database, deps.clock.now(), schedule, settings.therapists.user_ids
    )
    jobs = await deps.run(
        digest.claim,
        deps.database,
        deps.clock.now(),
        timedelta(seconds=settings.scheduler.claim_lease_seconds),
        deps.instance_id,
        settings.therapists.user_ids,
    )
    if not jobs:
        return 0
    sent = 0
    languages = await chat_languages(deps, {job.chat_id for job in jobs})
    for index, job in enumerate(jobs):
        found = await deps.run(
            digest.content, deps.database, settings.scheduler.default_timezone, job
        )
        # The picture's labels and the caption in the therapist's language.
        with speaking(languages[job.chat_id]):
            picture = await charts.render(charts.digest_png, found)
            caption = texts_charts.digest_caption(found)
        await pacer.acquire(job.chat_id)
        try:
            with paced():  # its slot came from the pacer above, not the replies' gate
                await application.bot.send_photo(
                    job.chat_id,
                    InputFile(picture, filename="weekly-digest.png"),
                    caption=caption,
                    parse_mode=ParseMode.HTML,
                )
        except (BadRequest, Forbidden) as error:
            # The therapist blocked the bot or the chat is gone: trying again changes nothing.
            await deps.run(
                digest.finish,
                deps.database,
                deps.clock.now(),
                job.digest_id,
                sent=False,
                error=str(error),
            )
            continue
        except RetryAfter as error:
            pacer.pause(retry_after_seconds(error))
            for left in jobs[index:]:
                await deps.run(digest.give_back, deps.database, left.digest_id, str(error))
            break
        except TelegramError as error:
            log.info("weekly digest not sent; the next scan tries again", exc_info=error)
            await deps.run(digest.give_back, deps.database, job.digest_id, str(error))
            continue
        await deps.run(digest.finish, deps.database, deps.clock.now(), job.digest_id, sent=True)
        sent += 1
    if sent:
        log.info("sent %d weekly digests", sent)
    return sent
