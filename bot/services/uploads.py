"""A file the bot sends out: as it is, zipped when too large for the Bot API, or refused.

Telegram takes files up to 50 MB from a bot (``[telegram] max_upload_bytes``). An export
grows with the clinic: a year of a 200-patient clinic is a CSV of about 90 MB and a FHIR
Bundle several times that, and Telegram answers such an upload with 413, which reached the
therapist as "my reply did not get through". Both formats shrink ten to twenty times zipped.
"""

from __future__ import annotations

import io
import zipfile

from bot.frozen import frozen
from bot.services.authoring.results import AuthoringError
from bot.services.meaning import Kind, meaning


@frozen
class Fitted:
    filename: str
    content: bytes
    unzipped_size: int | None  # the file's own size when it goes zipped


def fit_to_send(
    filename: str, content: bytes, max_bytes: int | None, *, one_group: bool = False
) -> Fitted:
    """``content`` as it is when it fits, else zipped; AuthoringError when neither fits.

    Raised before the export is recorded, so a file refused here is not in the audit trail.
    ``one_group``: the export was of one group already (the refusal advises accordingly).
    """
    if max_bytes is None or len(content) <= max_bytes:
        return Fitted(filename, content, None)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(filename, content)
    zipped = buffer.getvalue()
    if len(zipped) > max_bytes:
        raise AuthoringError(
            meaning(
                Kind.ADMIN_EXPORT_TOO_LARGE,
                size=len(zipped),
                most=max_bytes,
                one_group=one_group,
            )
        )
    return Fitted(f"{filename}.zip", zipped, len(content))
