"""``python -m bot`` is the ``patientbot`` command."""

from bot.launch import main

raise SystemExit(main())
