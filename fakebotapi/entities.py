"""Telegram's parsing of HTML and MarkdownV2 into plain text and entities, strictly."""

from __future__ import annotations

import re

from fakebotapi.records import (
    JSON,
)

# --- text parsing ---------------------------------------------------------------------------


class EntityParseError(ValueError):
    """Text that Telegram answers with "can't parse entities"."""


_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "blockquote": "blockquote",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY_RE = re.compile(r"&(?:#[xX]([0-9a-fA-F]{1,8})|#([0-9]{1,10})|(lt|gt|amp|quot));")
# Telegram reads a tag name up to whitespace or '>', so "<br/>" is the unknown tag "br/".
_TAG_NAME_RE = re.compile(r"[^\s>]*")
_ATTR_RE = re.compile(r"""\s*([^\s=>]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+)))?""")
_SPACE_RE = re.compile(r"\s*")
_SPECIAL_RE = re.compile(r"[<&]")


def _utf16_len(text: str) -> int:
    # Entity offsets are in UTF-16 code units; most texts are ASCII and skip the encode.
    return len(text) if text.isascii() else len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode())


def _decode_entity(match: re.Match[str]) -> str | None:
    hex_code, dec_code, name = match.groups()
    if name:
        return _NAMED_ENTITIES[name]
    code = int(hex_code, 16) if hex_code else int(dec_code)
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code)


def _unescape(value: str) -> str:
    return _ENTITY_RE.sub(lambda m: _decode_entity(m) or m.group(), value)


def parse_html(text: str) -> tuple[str, list[JSON]]:
    """Parse Telegram-flavoured HTML into plain text and message entities.

    Follows the server's parser: only its tags, only ``&lt; &gt; &amp; &quot;`` and numeric
    entities, a bare ``&`` stays text, a bare ``<`` starts a tag. Raises ``EntityParseError``
    with Telegram's wording for what the server would refuse.
    """
    if "<" not in text and "&" not in text:
        return text, []
    out: list[str] = []
    pos = 0  # UTF-16 length of `out`
    stack: list[tuple[str, int, JSON]] = []
    entities: list[JSON] = []
    i, n = 0, len(text)
    while i < n:
        special = _SPECIAL_RE.search(text, i)
        nxt = special.start() if special else n
        if nxt > i:
            chunk = text[i:nxt]
            out.append(chunk)
            pos += _utf16_len(chunk)
            i = nxt
            continue
        if text[i] == "&":
            match = _ENTITY_RE.match(text, i)
            char = _decode_entity(match) if match else None
            if match and char is not None:
                out.append(char)
                pos += _utf16_len(char)
                i = match.end()
            else:
                out.append("&")
                pos += 1
                i += 1
            continue
        if text.startswith("</", i):
            end = text.find(">", i)
            if end < 0:
                raise EntityParseError(f"Unclosed end tag at byte offset {_byte_offset(text, i)}")
            name = text[i + 2 : end].strip().lower()
            if not stack:
                raise EntityParseError(
                    f"Unexpected end tag at byte offset {_byte_offset(text, i)}"
                )
            open_name, start, opened = stack.pop()
            if name != open_name:
                raise EntityParseError(
                    f"Unmatched end tag at byte offset {_byte_offset(text, i)}, "
                    f'expected "</{open_name}>", found "</{name}>"'
                )
            if pos > start and opened.get("type"):
                entities.append({**opened, "offset": start, "length": pos - start})
            i = end + 1
            continue
        name_match = _TAG_NAME_RE.match(text, i + 1)
        assert name_match is not None  # the pattern matches the empty string
        name = name_match.group().lower()
        k = name_match.end()
        if k >= n:
            raise EntityParseError(f"Unclosed start tag at byte offset {_byte_offset(text, i)}")
        if name not in _HTML_TAGS:
            raise EntityParseError(
                f'Unsupported start tag "{name}" at byte offset {_byte_offset(text, i)}'
            )
        attrs: dict[str, str] = {}
        while True:
            space = _SPACE_RE.match(text, k)
            k = space.end() if space else k
            if k >= n:
                raise EntityParseError(
                    f"Unclosed start tag at byte offset {_byte_offset(text, i)}"
                )
            if text[k] == ">":
                k += 1
                break
            attr = _ATTR_RE.match(text, k)
            if attr is None or attr.end() == k:
                raise EntityParseError(
                    f'Malformed attribute in the tag "{name}" at byte offset '
                    f"{_byte_offset(text, k)}"
                )
            value = next((g for g in attr.groups()[1:] if g is not None), "")
            attrs[attr.group(1).lower()] = _unescape(value)
            k = attr.end()
        extra: JSON = {"type": _HTML_TAGS[name]}
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise EntityParseError(
                f'Tag "span" must have class "tg-spoiler" at byte offset {_byte_offset(text, i)}'
            )
        if name == "a":
            href = attrs.get("href", "")
            # The server keeps the text but drops a link it cannot use.
            extra = {"type": "text_link", "url": href} if href else {}
        elif name == "blockquote" and "expandable" in attrs:
            extra = {"type": "expandable_blockquote"}
        elif name == "code" and stack and stack[-1][0] == "pre":
            language = attrs.get("class", "")
            if language.startswith("language-"):
                stack[-1][2]["language"] = language.removeprefix("language-")
        stack.append((name, pos, extra))
        i = k
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


_MDV2_TOGGLES = ("||", "__", "*", "_", "~")
_MDV2_RESERVED = frozenset("#+-={}.!()>")


def _parse_markdown_v2(text: str) -> str:
    """Return the plain text of a MarkdownV2 message, refusing what the server refuses.

    Deliberately smaller than Telegram's parser: it checks reserved characters are escaped and
    that markers and links are closed, which is where real bots go wrong.
    """
    out: list[str] = []
    open_markers: dict[str, int] = {}
    link_start: int | None = None
    i, n = 0, len(text)
    line_start = True
    while i < n:
        c = text[i]
        if c == "\\":
            if i + 1 < n:
                out.append(text[i + 1])
            i += 2
            line_start = False
            continue
        if c == "`":
            fence = "```" if text.startswith("```", i) else "`"
            end = text.find(fence, i + len(fence))
            if end < 0:
                raise EntityParseError(
                    f"Can't find end of Pre entity at byte offset {_byte_offset(text, i)}"
                )
            body = text[i + len(fence) : end]
            if fence == "```" and "\n" in body:
                body = body.split("\n", 1)[1]  # the first line names the language
            out.append(re.sub(r"\\(.)", r"\1", body))
            i = end + len(fence)
            line_start = False
            continue
        marker = next((m for m in _MDV2_TOGGLES if text.startswith(m, i)), None)
        if marker is not None:
            if marker in open_markers:
                del open_markers[marker]
            else:
                open_markers[marker] = i
            i += len(marker)
            continue
        if c == "[":
            if link_start is not None:
                raise EntityParseError(
                    "Character '[' is reserved and must be escaped with the preceding '\\'"
                )
            link_start = i
            i += 1
            continue
        if c == "]" and link_start is not None:
            link_start = None
            if text.startswith("(", i + 1):
                end = text.find(")", i + 2)
                while end > 0 and text[end - 1] == "\\":
                    end = text.find(")", end + 1)
                if end < 0:
                    raise EntityParseError(
                        f"Can't find end of a URL at byte offset {_byte_offset(text, i + 1)}"
                    )
                i = end + 1
            else:
                i += 1
            continue
        if c == ">" and line_start:
            i += 1
            continue
        if c in _MDV2_RESERVED or c == "]":
            raise EntityParseError(
                f"Character '{c}' is reserved and must be escaped with the preceding '\\'"
            )
        out.append(c)
        line_start = c == "\n"
        i += 1
    if link_start is not None:
        raise EntityParseError(
            f"Can't find end of TextUrl entity at byte offset {_byte_offset(text, link_start)}"
        )
    if open_markers:
        marker, at = min(open_markers.items(), key=lambda item: item[1])
        raise EntityParseError(
            f"Can't find end of the entity starting at byte offset {_byte_offset(text, at)}"
        )
    return "".join(out)


def _trim(plain: str, entities: list[JSON]) -> tuple[str, list[JSON]]:
    """Strip surrounding whitespace as the server does, keeping entities on their text."""
    stripped = plain.strip()
    if stripped == plain:
        return plain, entities
    lead = _utf16_len(plain[: len(plain) - len(plain.lstrip())])
    size = _utf16_len(stripped)
    kept: list[JSON] = []
    for entity in entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, size)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return stripped, kept
