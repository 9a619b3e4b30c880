"""Synthetic photos of documents for the demo: a real PNG (so that the console shows it), with shapes where an ID
card has its photo and lines, and no words or numbers - nobody's data, generated here."""

from __future__ import annotations

import random
import struct
import zlib


def id_card_png(*, seed: int = 7, width: int = 320, height: int = 200) -> bytes:
    """A picture of an ID card's layout: a frame, a photo box, a few grey bars of different lengths."""
    rng = random.Random(seed)
    paper, ink, photo = (236, 240, 244), (70, 90, 120), (160, 170, 185)
    bars = [(130, 40 + 26 * i, 130 + rng.randint(80, 170), 52 + 26 * i) for i in range(5)]
    rows = []
    for y in range(height):
        row = bytearray(b"\x00")  # filter type 0 for each scanline
        for x in range(width):
            edge = x < 4 or y < 4 or x >= width - 4 or y >= height - 4
            in_photo = 20 <= x < 110 and 40 <= y < 150
            in_bar = any(x0 <= x < x1 and y0 <= y < y1 for x0, y0, x1, y1 in bars)
            row += bytes(ink if edge or in_bar else photo if in_photo else paper)
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
            + chunk(b"IEND", b""))
