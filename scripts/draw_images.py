"""Draw the emails' hero images and the example bank's logo (templates/assets/).

    .venv/bin/python scripts/draw_images.py

Each hero is 1200x400 pixels, shown at 600x200 (2x: sharp on high-density screens),
one design per event. Shapes are drawn with Pillow at 4x that size and scaled down
with a Lanczos filter, which anti-aliases every edge (Pillow's own drawing does not).
The images are decorative (the heading says the same): the emails give them alt="".
The logo of the fictional example bank (templates/brands/example-bank.yaml) is drawn
the same way at 360x64 (shown at 180x32). Deterministic: the same files every run.
"""

from __future__ import annotations

import math
import random
import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "templates" / "assets"
SIZE = (1200, 400)
SCALE = 4
#: Background (the hero cell's colour in the layout) and the shapes' colours.
BG = (47, 93, 98)
PALETTE = [(244, 200, 92), (239, 131, 84), (242, 242, 236), (159, 214, 207), (214, 112, 140), (120, 180, 220)]
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"


def canvas(top=BG, bottom=None):
    w, h = SIZE[0] * SCALE, SIZE[1] * SCALE
    image = Image.new("RGB", (w, h), top)
    if bottom:
        draw = ImageDraw.Draw(image)
        for y in range(0, h, SCALE):
            t = y / h
            colour = tuple(int(a + (b - a) * t) for a, b in zip(top, bottom, strict=True))
            draw.rectangle([0, y, w, y + SCALE], fill=colour)
    return image, ImageDraw.Draw(image)


def finish(image: Image.Image, name: str) -> None:
    out = image.resize(SIZE, Image.Resampling.LANCZOS)
    out.save(ASSETS / name, optimize=True)


def s(*values):
    """Coordinates in 1200x400 space -> the drawing's 4x space."""
    return [v * SCALE for v in values]


def confetti(draw, rng, count=70, area=(0, 0, 1200, 400)):
    for _ in range(count):
        x, y = rng.uniform(area[0], area[2]), rng.uniform(area[1], area[3])
        colour = rng.choice(PALETTE)
        if rng.random() < 0.5:
            r = rng.uniform(4, 8)
            draw.ellipse(s(x - r, y - r, x + r, y + r), fill=colour)
        else:
            a, length = rng.uniform(0, math.pi), rng.uniform(10, 18)
            dx, dy = math.cos(a) * length / 2, math.sin(a) * length / 2
            draw.line(s(x - dx, y - dy, x + dx, y + dy), fill=colour, width=5 * SCALE)


def star(draw, cx, cy, r, colour, points=5, inner=0.45):
    pts = []
    for i in range(points * 2):
        rad = r if i % 2 == 0 else r * inner
        a = -math.pi / 2 + i * math.pi / points
        pts.append((cx + rad * math.cos(a), cy + rad * math.sin(a)))
    draw.polygon([v * SCALE for p in pts for v in p], fill=colour)


def heart(draw, cx, cy, size, colour):
    pts = []
    for i in range(120):
        t = 2 * math.pi * i / 120
        x = 16 * math.sin(t) ** 3
        y = 13 * math.cos(t) - 5 * math.cos(2 * t) - 2 * math.cos(3 * t) - math.cos(4 * t)
        pts.append((cx + x * size / 16, cy - y * size / 16))
    draw.polygon([v * SCALE for p in pts for v in p], fill=colour)


def birthday():
    rng = random.Random(1)
    image, draw = canvas(BG, (36, 74, 79))
    confetti(draw, rng, 90)
    for x, colour in ((880, PALETTE[0]), (960, PALETTE[1]), (1040, PALETTE[4])):
        y = 150 + (x % 3) * 20
        draw.line(s(x, y + 62, x + 10, 380), fill=(230, 230, 225), width=2 * SCALE)
        draw.ellipse(s(x - 45, y - 60, x + 45, y + 60), fill=colour)
        draw.ellipse(s(x - 25, y - 40, x - 8, y - 12), fill=(255, 255, 255))
    finish(image, "birthday.png")


def retirement():
    image, draw = canvas((250, 196, 120), (232, 120, 96))
    draw.ellipse(s(480, 120, 720, 360), fill=(255, 236, 170))
    for i, colour in enumerate([(47, 93, 98), (36, 74, 79), (28, 58, 62)]):
        pts = [(x, 300 + i * 35 + 25 * math.sin(x / 140 + i)) for x in range(0, 1201, 20)]
        draw.polygon([v * SCALE for p in [(0, 400), *pts, (1200, 400)] for v in p], fill=colour)
    for x in (200, 260, 980):
        draw.arc(s(x, 90, x + 30, 110), 200, 340, fill=(90, 60, 60), width=3 * SCALE)
        draw.arc(s(x + 28, 90, x + 58, 110), 200, 340, fill=(90, 60, 60), width=3 * SCALE)
    finish(image, "retirement.png")


def marriage():
    rng = random.Random(3)
    image, draw = canvas(BG, (36, 74, 79))
    confetti(draw, rng, 40, (0, 0, 1200, 400))
    draw.ellipse(s(470, 110, 650, 290), outline=PALETTE[0], width=16 * SCALE)
    draw.ellipse(s(560, 110, 740, 290), outline=(235, 235, 240), width=16 * SCALE)
    star(draw, 650, 95, 18, PALETTE[2], points=4, inner=0.3)
    finish(image, "marriage.png")


def wedding_anniversary():
    rng = random.Random(4)
    image, draw = canvas((120, 62, 88), (80, 40, 64))
    for _ in range(26):
        heart(draw, rng.uniform(40, 1160), rng.uniform(30, 370), rng.uniform(10, 26), rng.choice(PALETTE[:5]))
    heart(draw, 560, 200, 90, (239, 131, 140))
    heart(draw, 650, 210, 80, (244, 200, 92))
    finish(image, "wedding_anniversary.png")


def graduation():
    rng = random.Random(5)
    image, draw = canvas((34, 52, 92), (24, 36, 66))
    for _ in range(40):
        star(draw, rng.uniform(20, 1180), rng.uniform(20, 380), rng.uniform(3, 8), rng.choice(PALETTE[:3]))
    draw.polygon(s(600, 110, 780, 180, 600, 250, 420, 180), fill=(20, 20, 28))
    draw.polygon(s(500, 210, 700, 210, 700, 290, 600, 310, 500, 290), fill=(30, 30, 40))
    draw.line(s(600, 180, 760, 210, 760, 300), fill=PALETTE[0], width=5 * SCALE, joint="curve")
    draw.ellipse(s(748, 295, 772, 330), fill=PALETTE[0])
    finish(image, "graduation.png")


def new_child():
    rng = random.Random(6)
    image, draw = canvas((60, 84, 130), (42, 60, 100))
    for _ in range(50):
        star(draw, rng.uniform(20, 1180), rng.uniform(20, 380), rng.uniform(3, 9), (255, 240, 200))
    mask = Image.new("L", image.size, 0)  # the crescent: one disc less another, over the gradient
    shape = ImageDraw.Draw(mask)
    shape.ellipse(s(500, 80, 740, 320), fill=255)
    shape.ellipse(s(560, 60, 800, 300), fill=0)
    image.paste((255, 236, 170), (0, 0), mask)
    for x, colour in ((300, PALETTE[4]), (900, PALETTE[3])):
        draw.line(s(x, 0, x, 120), fill=(220, 220, 220), width=2 * SCALE)
        star(draw, x, 150, 32, colour)
    finish(image, "new_child.png")


def customer_anniversary():
    rng = random.Random(7)
    image, draw = canvas(BG, (36, 74, 79))
    for i in range(24):
        a = 2 * math.pi * i / 24
        draw.line(s(600, 200, 600 + 520 * math.cos(a), 200 + 520 * math.sin(a)),
                  fill=(56, 106, 111), width=14 * SCALE)
    draw.ellipse(s(490, 90, 710, 310), fill=PALETTE[0])
    draw.ellipse(s(512, 112, 688, 288), fill=(250, 214, 120))
    star(draw, 600, 200, 62, (255, 248, 225))
    confetti(draw, rng, 30)
    finish(image, "customer_anniversary.png")


def logo():
    """The fictional example bank's logo: a star and its name, 360x64 (2x of 180x32), transparent."""
    w, h = 360 * SCALE, 64 * SCALE
    image = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    pts = []
    for i in range(8):
        rad = 28 if i % 2 == 0 else 9
        a = -math.pi / 2 + i * math.pi / 4
        pts.append((32 + rad * math.cos(a), 32 + rad * math.sin(a)))
    draw.polygon([v * SCALE for p in pts for v in p], fill=(11, 79, 108, 255))
    font = ImageFont.truetype(FONT, 30 * SCALE)
    draw.text((72 * SCALE, 14 * SCALE), "Northstar Bank", font=font, fill=(11, 79, 108, 255))
    image.resize((360, 64), Image.Resampling.LANCZOS).save(ASSETS / "example-bank-logo.png", optimize=True)


DRAWINGS = [birthday, retirement, marriage, wedding_anniversary, graduation, new_child, customer_anniversary, logo]

if __name__ == "__main__":
    for fn in DRAWINGS:
        fn()
    print(f"{len(DRAWINGS)} images written to {ASSETS}", file=sys.stderr)
