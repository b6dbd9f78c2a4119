"""Seeded mutation of valid files: bytes, JSON documents, text lines and images.

Every mutator takes a :class:`numpy.random.Generator` and returns ``(mutant, description)``; the description says
what was done, so that a failing case reads as a recipe. The same seed gives the same mutant on every machine.
"""

from __future__ import annotations

import copy
import functools
import io
import json
import struct
import zlib

import numpy as np
from PIL import Image

# Values a mutated JSON field takes: wrong types, edge numbers, odd strings.
ODD_VALUES: tuple[object, ...] = (
    None,
    True,
    False,
    0,
    -1,
    1,
    2**31,
    -(2**63),
    10**30,
    0.5,
    -0.0,
    1e308,
    -1e308,
    float("nan"),
    float("inf"),
    float("-inf"),
    "",
    " ",
    "x",
    "0",
    "1e5",
    "NaN",
    "../../etc/passwd",
    "/abs/path.png",
    "ünïcødé ✂ 衣服",
    "\u202e\u0000nul",
    "a" * 5000,
    [],
    [[]],
    [0],
    [1, 2],
    [None, None],
    ["a", "b", "c"],
    [[0, 0], [1, 1]],
    {},
    {"a": 1},
    {"counts": "", "size": [0, 0]},
)

# Strings a mutated text field (CSV cell, labelmap field) takes.
ODD_TEXT: tuple[str, ...] = (
    "",
    " ",
    ",",
    '"',
    '""',
    ":",
    "::",
    "\t",
    "..",
    "../x.png",
    "/etc/passwd",
    "images/../../x.png",
    "images/",
    "images/missing.png",
    "C:\\Windows\\x.png",
    "ünïcødé ✂ 衣服",
    "\u202e",
    "\x00",
    "a" * 300,
    "-1",
    "256",
    "1e9",
    "NaN",
    "0,0",
    "1,2,3,4",
    "name:1,2,3::",
    '{"id": 1}',
)


def _pick(rng: np.random.Generator, seq):
    """A copy of one element of ``seq`` (copied: the odd values include lists that later steps edit)."""
    return copy.deepcopy(seq[int(rng.integers(len(seq)))])


# ---------------------------------------------------------------------------------------------------------------
# Bytes


def mutate_bytes(data: bytes, rng: np.random.Generator, protect: int = 0) -> tuple[bytes, str]:
    """One byte-level mutation of ``data``: bit flips, random bytes, truncation, insertion, deletion,
    duplication or zeroing of a range. ``protect`` leading bytes are left alone (a file's signature)."""
    buf = bytearray(data)
    n = len(buf)
    if n <= protect + 1:
        return bytes(buf[: max(n - 1, 0)]), "truncated by one byte"
    op = int(rng.integers(8))
    lo = protect
    i = int(rng.integers(lo, n))
    span = int(rng.integers(1, max(2, min(64, n - i) + 1)))
    if op == 0:
        k = int(rng.integers(1, 9))
        for j in rng.integers(lo, n, size=k):
            buf[int(j)] ^= 1 << int(rng.integers(8))
        return bytes(buf), f"{k} bit flip(s)"
    if op == 1:
        buf[i : i + span] = rng.integers(0, 256, size=len(buf[i : i + span]), dtype=np.uint8).tobytes()
        return bytes(buf), f"{span} random byte(s) at {i}"
    if op == 2:
        return bytes(buf[:i]), f"truncated to {i} of {n} bytes"
    if op == 3:
        junk = rng.integers(0, 256, size=span, dtype=np.uint8).tobytes()
        return bytes(buf[:i] + junk + buf[i:]), f"{span} byte(s) inserted at {i}"
    if op == 4:
        del buf[i : i + span]
        return bytes(buf), f"{span} byte(s) deleted at {i}"
    if op == 5:
        return bytes(buf[:i] + buf[i : i + span] * 3 + buf[i:]), f"bytes {i}..{i + span} repeated"
    if op == 6:
        buf[i : i + span] = bytes(len(buf[i : i + span]))
        return bytes(buf), f"{span} byte(s) zeroed at {i}"
    return bytes(buf[: n // 2] + buf[:i]), "spliced with its own start"


# ---------------------------------------------------------------------------------------------------------------
# JSON


def _paths(node, prefix=()) -> list[tuple]:
    """Every path into a JSON document (keys and list indices), the root included, capped for big lists."""
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node[:40]):
            out += _paths(value, prefix + (i,))
    return out


def _get(doc, path):
    for key in path:
        doc = doc[key]
    return doc


def _number_edit(value: float, rng: np.random.Generator) -> object:
    return _pick(rng, (-value, value * 1e6, value + 0.5, -1, 0, 1e308, float("nan"), 2**64, str(value)))


def mutate_json_doc(doc: object, rng: np.random.Generator) -> tuple[object, str]:
    """One structural mutation of a JSON document: delete, duplicate, retype, empty, rename or add a field."""
    doc = copy.deepcopy(doc)
    paths = _paths(doc)
    path = paths[int(rng.integers(len(paths)))]
    where = "/".join(str(p) for p in path) or "<root>"
    op = int(rng.integers(8))
    if not path:
        if op < 4:
            return _pick(rng, ODD_VALUES), "the whole document replaced"
        return ([doc] if op < 6 else {"wrapped": doc}), "the document wrapped"
    parent, key = _get(doc, path[:-1]), path[-1]
    value = parent[key]
    if op == 0:
        del parent[key]
        return doc, f"{where} deleted"
    if op == 1:
        parent[key] = _pick(rng, ODD_VALUES)
        return doc, f"{where} set to {str(parent[key])[:40]!r}"
    if op == 2 and isinstance(value, (int, float)) and not isinstance(value, bool):
        parent[key] = _number_edit(float(value), rng)
        return doc, f"{where} number edited to {str(parent[key])[:40]}"
    if op == 3 and isinstance(value, list):
        if value and rng.random() < 0.5:
            value.extend(copy.deepcopy(value[: int(rng.integers(1, len(value) + 1))]))
            return doc, f"{where} items duplicated"
        value.clear()
        return doc, f"{where} emptied"
    if op == 4 and isinstance(value, dict):
        if value and rng.random() < 0.5:
            k = _pick(rng, list(value))
            value[str(k).upper() + "ü"] = value.pop(k)
            return doc, f"{where}/{k} renamed"
        value[_pick(rng, ("id", "x", "", "ü"))] = _pick(rng, ODD_VALUES)
        return doc, f"{where} given an extra field"
    if op == 5 and isinstance(value, str):
        parent[key] = _pick(rng, ODD_TEXT) if rng.random() < 0.7 else value[: len(value) // 2]
        return doc, f"{where} string edited to {str(parent[key])[:40]!r}"
    if op == 6:
        parent[key] = [value] if rng.random() < 0.5 else {"v": value}
        return doc, f"{where} wrapped"
    if op == 7 and isinstance(parent, list):
        parent.insert(int(rng.integers(len(parent) + 1)), copy.deepcopy(value))
        return doc, f"{where} duplicated"
    parent[key] = _pick(rng, ODD_VALUES)
    return doc, f"{where} set to {str(parent[key])[:40]!r}"


def json_text_oddity(rng: np.random.Generator, text: str) -> tuple[bytes, str]:
    """Whole-file oddities that structural mutation cannot make: deep nesting, giant numbers, encodings."""
    op = int(rng.integers(8))
    if op == 0:
        depth = int(rng.integers(2_000, 200_000))
        return ("[" * depth + "]" * depth).encode(), f"nested {depth} deep"
    if op == 1:
        return ('{"images": ' + "9" * 6000 + "}").encode(), "a 6000-digit number"
    if op == 2:
        return text.encode("utf-16"), "UTF-16"
    if op == 3:
        return b"\xef\xbb\xbf" + text.encode(), "with a UTF-8 BOM"
    if op == 4:
        return (text + "\n{}garbage").encode(), "trailing garbage"
    if op == 5:
        return b"", "empty"
    if op == 6:
        return text.encode("latin-1", errors="replace") + b"\xff\xfe", "invalid UTF-8"
    return text.replace(",", ",\n" * int(rng.integers(1, 5))).encode(), "reflowed"


def mutate_json(doc: object, rng: np.random.Generator) -> tuple[bytes, str]:
    """A mutated serialization of ``doc``: mostly structural edits (one to three), sometimes byte-level ones."""
    roll = rng.random()
    if roll < 0.7:
        steps = []
        for _ in range(int(rng.integers(1, 4))):
            doc, what = mutate_json_doc(doc, rng)
            steps.append(what)
        return json.dumps(doc).encode(), "; ".join(steps)
    text = json.dumps(doc)
    if roll < 0.85:
        data, what = mutate_bytes(text.encode(), rng)
        return data, f"bytes: {what}"
    data, what = json_text_oddity(rng, text)
    return data, what


# ---------------------------------------------------------------------------------------------------------------
# Text lines (CSV, JSON lines, labelmap.txt)


def mutate_lines(text: str, rng: np.random.Generator, sep: str = ",") -> tuple[bytes, str]:
    """A line-level mutation: delete, duplicate, swap or insert lines, or edit one field of a line."""
    lines = text.splitlines()
    op = int(rng.integers(9))
    i = int(rng.integers(len(lines))) if lines else 0
    if op == 0 and lines:
        del lines[i]
        what = f"line {i + 1} deleted"
    elif op == 1 and lines:
        lines.insert(i, lines[i])
        what = f"line {i + 1} duplicated"
    elif op == 2 and len(lines) > 1:
        j = int(rng.integers(len(lines)))
        lines[i], lines[j] = lines[j], lines[i]
        what = f"lines {i + 1} and {j + 1} swapped"
    elif op == 3:
        lines.insert(i, _pick(rng, ODD_TEXT))
        what = f"odd line inserted at {i + 1}"
    elif op in (4, 5) and lines:
        fields = lines[i].split(sep)
        k = int(rng.integers(len(fields)))
        fields[k] = _pick(rng, ODD_TEXT)
        if rng.random() < 0.2:
            del fields[k]
        lines[i] = sep.join(fields)
        what = f"line {i + 1} field {k + 1} edited"
    elif op == 6:
        data, what = mutate_bytes("\n".join(lines).encode(), rng)
        return data, f"bytes: {what}"
    elif op == 7:
        return ("\r".join(lines)).encode("utf-16"), "UTF-16 with CR line ends"
    else:
        lines = lines[: int(rng.integers(len(lines) + 1))]
        what = f"cut to {len(lines)} lines"
    return ("\n".join(lines) + ("\n" if rng.random() < 0.5 else "")).encode(), what


# ---------------------------------------------------------------------------------------------------------------
# Images


def png_bytes(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def _chunks(data: bytes) -> list[tuple[int, bytes, bytes]]:
    """(offset, type, payload) of each PNG chunk."""
    out, pos = [], 8
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        out.append((pos, kind, data[pos + 8 : pos + 8 + length]))
        pos += 12 + length
    return out


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    """One PNG chunk with a correct CRC, so that decoders look past the checksum into the payload."""
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def with_declared_size(data: bytes, width: int, height: int) -> bytes:
    """The PNG ``data`` with its IHDR claiming ``width`` x ``height`` (and a valid CRC)."""
    pos, _, payload = _chunks(data)[0]
    ihdr = struct.pack(">II", width, height) + payload[8:]
    return data[:pos] + png_chunk(b"IHDR", ihdr) + data[pos + 12 + len(payload) :]


def _with_mutated_chunk(data: bytes, rng: np.random.Generator) -> tuple[bytes, str]:
    chunks = _chunks(data)
    pos, kind, payload = chunks[int(rng.integers(len(chunks)))]
    new, what = mutate_bytes(payload, rng) if payload else (b"\x00", "filled")
    return data[:pos] + png_chunk(kind, new) + data[
        pos + 12 + len(payload) :
    ], f"{kind.decode()} {what}, CRC fixed"


def _save(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


@functools.cache
def _text_bomb() -> bytes:
    """A PNG whose zTXt chunk inflates to 64 MB (a decompression bomb in the metadata)."""
    base = png_bytes(Image.new("L", (2, 2)))
    bomb = png_chunk(b"zTXt", b"comment\x00\x00" + zlib.compress(b"A" * (64 << 20), 9))
    return base[:33] + bomb + base[33:]


def mutate_image(im: Image.Image, rng: np.random.Generator) -> tuple[bytes, str]:
    """A malformed or unusual image file made from ``im``: corrupt, truncated, huge, tiny, other modes/formats."""
    data = png_bytes(im)
    op = int(rng.integers(16))
    if op == 0:
        out, what = mutate_bytes(data, rng, protect=8)
        return out, f"PNG bytes: {what}"
    if op == 1:
        return _with_mutated_chunk(data, rng)
    if op == 2:
        cut = int(rng.integers(len(data)))
        return data[:cut], f"PNG truncated to {cut} of {len(data)} bytes"
    if op == 3:
        w, h = _pick(
            rng,
            ((100_000, 100_000), (65_535, 65_535), (2**31 - 1, 1), (1, 2**31 - 1), (0, 0), (30_000, 30_000)),
        )
        return with_declared_size(data, w, h), f"IHDR declares {w}x{h}"
    if op == 4:
        w, h = _pick(rng, ((4_000, 4_000), (9_000, 9_000), (im.width + 1, im.height), (1, 1)))
        return with_declared_size(data, w, h), f"IHDR declares {w}x{h} over the original data"
    if op == 5:
        return _pick(
            rng, (b"", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"hello, not an image\n", b"\xff\xd8\xff")
        ), "not an image"
    if op == 6:
        size = _pick(rng, ((1, 1), (1, im.height), (im.width, 1), (im.width + 3, im.height), (3, 5)))
        return png_bytes(im.resize(size)), f"resized to {size[0]}x{size[1]}"
    if op == 7:
        mode = _pick(rng, ("1", "L", "LA", "P", "RGBA", "I", "I;16", "RGBX"))
        try:
            return png_bytes(im.convert(mode)), f"mode {mode}"
        except (ValueError, OSError):
            return png_bytes(im.convert("L")), "mode L"
    if op == 8:
        mode = _pick(rng, ("F", "I", "CMYK", "LAB", "YCbCr", "I;16", "1", "LA", "RGBA"))
        try:
            return _save(im.convert(mode), "TIFF"), f"TIFF mode {mode}"
        except (ValueError, OSError):
            return _save(im.convert("RGB"), "TIFF"), "TIFF mode RGB"
    if op == 9:
        fmt = _pick(rng, ("JPEG", "BMP", "GIF", "WEBP", "PPM", "ICO", "TGA"))
        return _save(im.convert("RGB"), fmt), f"format {fmt}"
    if op == 10:
        return _save(im.convert("CMYK"), "JPEG"), "CMYK JPEG"
    if op == 11:
        frames = [im.convert("P"), im.convert("P").rotate(90)]
        return _save(frames[0], "GIF", save_all=True, append_images=frames[1:]), "animated GIF"
    if op == 12:
        p = im.convert("P")
        p.info["transparency"] = bytes(range(256))[: int(rng.integers(1, 8))]
        return png_bytes(p), "palette PNG with a tRNS chunk"
    if op == 13:
        return _text_bomb(), "zTXt decompression bomb"
    if op == 14:
        out, what = mutate_bytes(_save(im.convert("RGB"), "JPEG"), rng, protect=2)
        return out, f"JPEG bytes: {what}"
    extra = png_chunk(
        _pick(rng, (b"IHDR", b"PLTE", b"tRNS", b"IEND", b"eXIf", b"iCCP")),
        rng.bytes(int(rng.integers(0, 40))),
    )
    pos = _chunks(data)[1][0]
    return data[:pos] + extra + data[pos:], "a stray chunk inserted"
