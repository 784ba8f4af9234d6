"""Legend images (PNG) from legend data (``RasterStyle.legend()``, ``vector_legend``).

Drawn with Pillow, one row per item: a colour swatch (a filled square, a line or
a dot by geometry) and the Dutch label, under the title. Text is set in DejaVu
Sans (Debian ``fonts-dejavu-core``, found by Pillow in the system font folders),
which has every glyph Dutch labels need (ë, é, °, ², –). Without it, Pillow's
bundled font is used; it lacks those glyphs, so they are spelled out in ASCII
(``m2``, ``e``) rather than drawn as empty boxes.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Mapping
from typing import Any

from PIL import Image, ImageDraw, ImageFont

TITLE_SIZE = 15
LABEL_SIZE = 13
PADDING = 8
SWATCH_W = 22
SWATCH_H = 14
ROW_GAP = 6
TEXT_GAP = 8
LINE_WIDTH = 3
BACKGROUND = (255, 255, 255, 255)
TEXT = (33, 33, 33, 255)
SWATCH_BORDER = (90, 90, 90, 255)


#: Font files tried in order (Pillow searches the system font folders for a bare file name).
FONT_FILES = ("DejaVuSans.ttf",)
#: Replacements when only Pillow's bundled font (Latin letters, digits, basic signs) is available.
ASCII_FALLBACK = str.maketrans(
    {
        "²": "2",
        "³": "3",
        "–": "-",
        "—": "-",
        "≥": ">=",
        "≤": "<=",
        "ë": "e",
        "é": "e",
        "è": "e",
        "ï": "i",
        "ö": "o",
        "ü": "u",
        "à": "a",
        "°": " gr.",
    }
)


@functools.cache
def font(size: int) -> tuple[ImageFont.FreeTypeFont | ImageFont.ImageFont, bool]:
    """The legend font at ``size`` and whether it covers Dutch glyphs (shared with ``styles.report_map``)."""
    for name in FONT_FILES:
        try:
            return ImageFont.truetype(name, size), True
        except OSError:
            continue
    return ImageFont.load_default(size=size), False


def text_for(text: str, full: bool) -> str:
    """``text``, or its ASCII fallback when the font lacks Dutch glyphs."""
    return text if full else text.translate(ASCII_FALLBACK)


def _rgba(colour: str) -> tuple[int, int, int, int]:
    value = colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16), 255


def legend_png(legend: Mapping[str, Any]) -> bytes:
    """Render a legend (``title`` and ``items`` with ``colour``, ``label``, optional ``geometry``) as PNG."""
    (title_font, full), (label_font, _) = font(TITLE_SIZE), font(LABEL_SIZE)
    probe = ImageDraw.Draw(Image.new("RGBA", (1, 1)))
    title = text_for(str(legend.get("title", "")), full)
    items = list(legend.get("items", []))
    labels = [text_for(str(i["label"]), full) for i in items]
    title_box = probe.textbbox((0, 0), title, font=title_font) if title else (0, 0, 0, 0)
    label_boxes = [probe.textbbox((0, 0), label, font=label_font) for label in labels]
    row_h = max([SWATCH_H, *(b[3] - b[1] for b in label_boxes)]) if items else 0
    width = PADDING * 2 + max([title_box[2] - title_box[0], *(SWATCH_W + TEXT_GAP + b[2] - b[0] for b in label_boxes)])
    title_h = (title_box[3] + ROW_GAP) if title else 0
    height = PADDING * 2 + title_h + len(items) * (row_h + ROW_GAP)
    image = Image.new("RGBA", (max(int(width), 1), max(int(height), 1)), BACKGROUND)
    draw = ImageDraw.Draw(image)
    if title:
        draw.text((PADDING, PADDING), title, font=title_font, fill=TEXT)
    y = PADDING + title_h
    for item, label, box in zip(items, labels, label_boxes, strict=True):
        colour = _rgba(str(item["colour"]))
        top = y + (row_h - SWATCH_H) // 2
        geometry = item.get("geometry", "fill")
        if geometry == "line":
            mid = top + SWATCH_H // 2
            draw.line((PADDING, mid, PADDING + SWATCH_W, mid), fill=colour, width=LINE_WIDTH)
        elif geometry == "circle":
            r = SWATCH_H // 2
            cx = PADDING + SWATCH_W // 2
            draw.ellipse((cx - r, top, cx + r, top + SWATCH_H), fill=colour, outline=SWATCH_BORDER)
        else:
            outline = _rgba(str(item["outline"])) if item.get("outline") else SWATCH_BORDER
            draw.rectangle((PADDING, top, PADDING + SWATCH_W, top + SWATCH_H), fill=colour, outline=outline)
        text_y = y + (row_h - (box[3] - box[1])) // 2 - box[1]
        draw.text((PADDING + SWATCH_W + TEXT_GAP, text_y), label, font=label_font, fill=TEXT)
        y += row_h + ROW_GAP
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
