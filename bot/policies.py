"""The services' rules as the configuration sets them: services never read the settings.

Built here for every floor that calls a service (handlers, the due scan), so a rule the
configuration adds is passed on in one place.
"""

from __future__ import annotations

from datetime import timedelta

from bot.config import InviteSettings, Settings
from bot.services import checkin
from bot.services.throttle import ThrottlePolicy


def checkin_policy(settings: Settings) -> checkin.Policy:
    return checkin.Policy(
        default_zone=settings.scheduler.default_timezone,
        erasure_key=settings.erasure_key,
        max_reasks=settings.checkins.max_reasks,
        first_reminder_minutes=settings.checkins.first_reminder_minutes,
        max_reminders=settings.checkins.max_reminders,
        quiet_start=settings.checkins.quiet_hours_start,
        quiet_end=settings.checkins.quiet_hours_end,
        therapist_user_ids=tuple(settings.therapists.user_ids),
        throttle=throttle_policy(settings.invites),
    )


def throttle_policy(invites: InviteSettings) -> ThrottlePolicy:
    return ThrottlePolicy(
        failures=invites.wrong_codes_per_user,
        window=timedelta(minutes=invites.wrong_codes_window_minutes),
        cooldown=timedelta(minutes=invites.cooldown_minutes),
        cooldown_max=timedelta(hours=invites.cooldown_max_hours),
        alert_failures=invites.wrong_codes_alert_per_hour,
    )
