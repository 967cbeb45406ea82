"""Shared by the email-modes browser test: open one email light, dark or with images blocked, measure it.

``measure`` returns every visible text's colour contrast against the background it
is drawn on (WCAG 2 ratio), the alt text's contrast when images are blocked, and
the card's background luminance (to tell the dark styles apply).
"""

from __future__ import annotations

MODES = ("light", "dark", "images-blocked")
WIDTHS = (320, 600)

MEASURE_JS = """() => {
  const parse = (c) => { const p = c.match(/rgba?\\(([^)]+)\\)/)[1].split(',').map(Number);
                         return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; };
  const lum = (c) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
                       return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
  const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  const dark = matchMedia('(prefers-color-scheme: dark)').matches;
  const canvas = dark ? [18, 18, 18, 1] : [255, 255, 255, 1];
  const bgOf = (el) => { for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor); if (c[3] > 0) return c; } return canvas; };
  const texts = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode, el = node.parentElement;
    if (!node.textContent.trim()) continue;
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0 || getComputedStyle(el).visibility === 'hidden') continue;
    texts.push({text: node.textContent.trim().slice(0, 50), ratio: ratio(parse(getComputedStyle(el).color), bgOf(el))});
  }
  const alts = [...document.images].filter((img) => img.complete && img.naturalWidth === 0).map((img) => ({
    text: img.alt, ratio: ratio(parse(getComputedStyle(img).color), bgOf(img.parentElement)),
    height: img.getBoundingClientRect().height}));
  const card = document.querySelector('.card');
  return {texts, alts, images: document.images.length, loaded: [...document.images].filter((i) => i.naturalWidth > 0).length,
          cardLuminance: lum(bgOf(card)), scroll: document.documentElement.scrollWidth};
}"""


def new_page(browser, mode: str, width: int):
    """A page that shows emails in ``mode`` (light, dark, images-blocked) at ``width`` px."""
    page = browser.new_page(viewport={"width": width, "height": 900},
                            color_scheme="dark" if mode == "dark" else "light")
    if mode == "images-blocked":
        page.route("**/*.png", lambda route: route.abort())
    return page


def show(page, url: str):
    page.goto(url)
    page.wait_for_load_state("load")
    return page


def measure(page) -> dict:
    return page.evaluate(MEASURE_JS)
