"""patientbot: Telegram check-ins for physiotherapy home exercises."""

import os

# PTB 22 warns on every RetryAfter unless told to use timedelta for retry_after; opting in
# keeps 429 handling warning-free (tests run with warnings as errors) and is PTB 23's default.
os.environ.setdefault("PTB_TIMEDELTA", "true")
