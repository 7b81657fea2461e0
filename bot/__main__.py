"""``python -m bot`` is the ``patientbot`` command."""

from bot.cli import main

raise SystemExit(main())
