"""Telegram's TLS context, made on a thread of its own while start-up imports the rest.

Loading the certificate store takes about 30 ms, which OpenSSL spends without the GIL: on a
thread it overlaps the imports of the Application (``bot.cli`` starts it first, then imports),
instead of adding to the time before the first ``getUpdates``.
"""

from __future__ import annotations

import ssl
import threading
from concurrent.futures import Future

import httpx


def tls_context_ahead() -> Future[ssl.SSLContext]:
    """``httpx.create_ssl_context()`` (which honours ``SSL_CERT_FILE``/``SSL_CERT_DIR``), begun
    now; ``.result()`` waits for it and raises what it raised."""
    made: Future[ssl.SSLContext] = Future()

    def make() -> None:
        try:
            made.set_result(httpx.create_ssl_context())
        except BaseException as error:  # handed to whoever waits for the context
            made.set_exception(error)

    # A daemon: a process told to stop during start-up does not wait for the store.
    threading.Thread(target=make, name="tls-context", daemon=True).start()
    return made
