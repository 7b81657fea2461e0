#!/bin/sh
# What the image runs: bring the database to this version's schema, then become the bot.
# `exec` makes the bot PID 1's process, so `docker stop` (SIGTERM) reaches it directly and it
# stops cleanly: no new claims, unsent claims released, database closed.
set -eu
patientbot db upgrade
exec patientbot run
