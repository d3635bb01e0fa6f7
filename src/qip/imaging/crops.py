"""Where a cover crop goes: the centre, or the most salient region ("attention").

Attention works the way libvips' attention crop does: on a small copy of the image it scores
edges (a Laplacian of the luminance), skin tones and saturated colour, blurs the score map,
and picks the crop window that holds the most of it (libvips centres the window on the map's
maximum; summing over the window keeps a whole object in it, not only its busiest point).
Computed once per image, on at most MAP_SIDE px, and applied to every crop of it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from PIL import Image, ImageFilter

MAP_SIDE = 64
SKIN = (0.78, 0.57, 0.44)
"""Skin tone as a unit RGB direction (the colour smartcrop.js, which libvips followed, uses)."""
SKIN_THRESHOLD = 0.8
EDGE_WEIGHT, SKIN_WEIGHT, SATURATION_WEIGHT = 1.0, 1.8, 0.3

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class Saliency:
    """A small map of how much each region draws the eye."""

    width: int
    height: int
    values: tuple[float, ...]

    def best_window(self, fraction_w: float, fraction_h: float) -> tuple[float, float]:
        """Top-left corner (as fractions of the image) of the window of that relative size
        holding the most attention; ties go to the window nearest the centre."""
        win_w = max(1, min(self.width, round(fraction_w * self.width)))
        win_h = max(1, min(self.height, round(fraction_h * self.height)))
        table = self._summed()
        stride = self.width + 1
        best, best_key = (0, 0), (-math.inf, 0.0)
        centre_x, centre_y = (self.width - win_w) / 2, (self.height - win_h) / 2
        for top in range(self.height - win_h + 1):
            for left in range(self.width - win_w + 1):
                total = (table[(top + win_h) * stride + left + win_w] - table[top * stride + left + win_w]
                         - table[(top + win_h) * stride + left] + table[top * stride + left])
                key = (round(total, 6), -((left - centre_x) ** 2 + (top - centre_y) ** 2))
                if key > best_key:
                    best, best_key = (left, top), key
        return best[0] / self.width, best[1] / self.height

    def _summed(self) -> list[float]:
        stride = self.width + 1
        table = [0.0] * (stride * (self.height + 1))
        for y in range(self.height):
            running = 0.0
            for x in range(self.width):
                running += self.values[y * self.width + x]
                table[(y + 1) * stride + x + 1] = table[y * stride + x + 1] + running
        return table


def saliency(image: Image.Image) -> Saliency:
    """The attention map of an RGB(A) or L image."""
    small = image.convert("RGB")
    small.thumbnail((MAP_SIDE, MAP_SIDE), Image.Resampling.BOX)
    edges = small.convert("L").filter(ImageFilter.Kernel((3, 3), [-1, -1, -1, -1, 8, -1, -1, -1, -1], 4, 128))
    hsv = small.convert("HSV")
    rgb, edge, sat, val = (small.tobytes(), edges.tobytes(), hsv.getchannel("S").tobytes(),
                           hsv.getchannel("V").tobytes())
    scores = []
    for i in range(small.width * small.height):
        r, g, b = rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]
        score = EDGE_WEIGHT * abs(edge[i] - 128) / 127
        score += SKIN_WEIGHT * _skin(r, g, b)
        if val[i] > 40:
            score += SATURATION_WEIGHT * sat[i] / 255
        scores.append(score)
    peak = max(scores) or 1.0
    heat = Image.frombytes("L", small.size, bytes(round(255 * s / peak) for s in scores))
    heat = heat.filter(ImageFilter.GaussianBlur(max(1.0, max(small.size) / 32)))
    return Saliency(small.width, small.height, tuple(v / 255 for v in heat.tobytes()))


def _skin(r: int, g: int, b: int) -> float:
    magnitude = math.sqrt(r * r + g * g + b * b)
    if magnitude < 40 or magnitude > 430:  # too dark or blown out to tell
        return 0.0
    distance = math.dist((r / magnitude, g / magnitude, b / magnitude), SKIN)
    closeness = 1 - distance
    return (closeness - SKIN_THRESHOLD) / (1 - SKIN_THRESHOLD) if closeness > SKIN_THRESHOLD else 0.0


def crop_box(size: tuple[int, int], crop: tuple[int, int], mode: str, attention: Saliency | None = None) -> Box:
    """The box of `crop` size to cut out of an image of `size`: centred, or on the attention."""
    width, height = size
    crop_w, crop_h = min(crop[0], width), min(crop[1], height)
    if mode == "attention" and attention is not None and (crop_w < width or crop_h < height):
        fx, fy = attention.best_window(crop_w / width, crop_h / height)
        left, top = round(fx * width), round(fy * height)
    else:
        left, top = (width - crop_w) // 2, (height - crop_h) // 2
    left, top = max(0, min(left, width - crop_w)), max(0, min(top, height - crop_h))
    return left, top, left + crop_w, top + crop_h
