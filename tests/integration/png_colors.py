#!/usr/bin/env python3
# SPDX-License-Identifier: PostgreSQL
"""How many pixels of a PNG screenshot are near each given colour.

  png_colors.py FILE RRGGBB...   one count per colour, in order

A plain decoder (8-bit RGB or RGBA, not interlaced: what Chromium writes), so that the
test checks what the page draws without an imaging library.
"""
import struct
import sys
import zlib


def pixels(path):
    with open(path, 'rb') as f:
        data = f.read()
    if data[:8] != b'\x89PNG\r\n\x1a\n':
        raise SystemExit(f'{path}: not a PNG')
    pos, idat, width = 8, b'', None
    while pos < len(data):
        length, kind = struct.unpack('>I4s', data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b'IHDR':
            width, height, depth, colour, _, _, interlace = struct.unpack('>IIBBBBB', body)
            if depth != 8 or colour not in (2, 6) or interlace:
                raise SystemExit(f'{path}: not 8-bit RGB(A), non-interlaced')
            bpp = 3 if colour == 2 else 4
        elif kind == b'IDAT':
            idat += body
        pos += 12 + length
    raw, stride, prev, out = zlib.decompress(idat), width * bpp, bytearray(width * bpp), []
    for y in range(height):
        kind, row = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = row[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                row[i] = (row[i] + a) & 255
            elif kind == 2:
                row[i] = (row[i] + b) & 255
            elif kind == 3:
                row[i] = (row[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                row[i] = (row[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        out.extend(tuple(row[x * bpp:x * bpp + 3]) for x in range(width))
        prev = row
    return out


def main(argv):
    px = pixels(argv[1])
    for hexcolour in argv[2:]:
        want = tuple(int(hexcolour[i:i + 2], 16) for i in (0, 2, 4))
        print(sum(1 for p in px if all(abs(p[k] - want[k]) <= 12 for k in range(3))))


if __name__ == '__main__':
    main(sys.argv)
