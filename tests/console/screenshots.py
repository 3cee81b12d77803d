"""Small PNG screenshots for docs/console.md: chromium takes the picture, a blank page of the same
browser reduces it to a 256-colour palette (the most frequent colours; every other pixel takes
the nearest of them), and Python writes an indexed PNG. A text-heavy page shrinks to a third or
less of chromium's truecolor PNG, with no imaging library to install."""

from __future__ import annotations

import base64
import struct
import zlib
from pathlib import Path

_QUANTIZE = """
async (png) => {
  const image = new Image();
  image.src = "data:image/png;base64," + png;
  await image.decode();
  const canvas = document.createElement("canvas");
  canvas.width = image.width;
  canvas.height = image.height;
  const context = canvas.getContext("2d");
  context.drawImage(image, 0, 0);
  const rgba = context.getImageData(0, 0, image.width, image.height).data;
  const pixels = rgba.length / 4;
  const counts = new Map();
  for (let i = 0; i < pixels; i++) {
    const key = (rgba[4 * i] << 16) | (rgba[4 * i + 1] << 8) | rgba[4 * i + 2];
    counts.set(key, (counts.get(key) || 0) + 1);
  }
  const palette = [...counts.entries()].sort((a, b) => b[1] - a[1]).slice(0, 256).map((e) => e[0]);
  const index = new Map(palette.map((key, i) => [key, i]));
  const nearest = (key) => {
    const r = key >> 16, g = (key >> 8) & 255, b = key & 255;
    let best = 0, bestDistance = Infinity;
    palette.forEach((p, i) => {
      const d = (r - (p >> 16)) ** 2 + (g - ((p >> 8) & 255)) ** 2 + (b - (p & 255)) ** 2;
      if (d < bestDistance) { best = i; bestDistance = d; }
    });
    index.set(key, best);
    return best;
  };
  const indices = new Uint8Array(pixels);
  for (let i = 0; i < pixels; i++) {
    const key = (rgba[4 * i] << 16) | (rgba[4 * i + 1] << 8) | rgba[4 * i + 2];
    const found = index.get(key);
    indices[i] = found === undefined ? nearest(key) : found;
  }
  let binary = "";
  for (let i = 0; i < indices.length; i += 32768) {
    binary += String.fromCharCode.apply(null, indices.subarray(i, i + 32768));
  }
  return { width: image.width, height: image.height, palette, indices: btoa(binary) };
}
"""


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def indexed_png(width: int, height: int, palette: list[int], indices: bytes) -> bytes:
    rows = b"".join(
        b"\x00" + indices[y * width : (y + 1) * width] for y in range(height)
    )  # filter type 0 per row: what suits an indexed image
    plte = b"".join(bytes(((c >> 16) & 255, (c >> 8) & 255, c & 255)) for c in palette)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 3, 0, 0, 0))
        + _chunk(b"PLTE", plte)
        + _chunk(b"IDAT", zlib.compress(rows, 9))
        + _chunk(b"IEND", b"")
    )


def small_screenshot(page, path: Path) -> None:
    """The page's viewport as an indexed PNG at `path`."""
    png = page.screenshot()
    scratch = page.context.new_page()  # about:blank: no Content-Security-Policy to refuse data:
    try:
        found = scratch.evaluate(_QUANTIZE, base64.b64encode(png).decode())
    finally:
        scratch.close()
    path.write_bytes(
        indexed_png(
            found["width"], found["height"], found["palette"], base64.b64decode(found["indices"])
        )
    )
