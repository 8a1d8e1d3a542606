"""The stylesheet's text colours are readable: every rule that sets a text colour passes WCAG AA
(4.5:1) against the background it sets, or white (the page's). And the favicon is served."""

from __future__ import annotations

import re

from devmetrics_app.project_files import project_path

CSS = project_path("templates") / "static" / "app.css"
AA = 4.5
VARIABLES = dict(re.findall(r"--([a-z]+):\s*(#[0-9a-fA-F]{6})", CSS.read_text()))


def _colour(value: str) -> str | None:
    value = value.strip()
    if value.startswith("var(--"):
        return VARIABLES.get(value[6:-1])
    if re.fullmatch(r"#[0-9a-fA-F]{3}", value):
        return "#" + "".join(c * 2 for c in value[1:])
    return value if re.fullmatch(r"#[0-9a-fA-F]{6}", value) else None


def _luminance(hex_colour: str) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_contrast_of_the_known_colours() -> None:
    assert round(contrast("#000000", "#ffffff"), 1) == 21.0
    assert contrast("#4c8c2b", "#ffffff") < AA  # the old "high" green, which failed


def test_every_text_colour_passes_aa() -> None:
    checked = []
    for selector, body in re.findall(r"([^{}]+)\{([^}]*)\}", CSS.read_text()):
        declarations = dict(re.findall(r"(?:^|;)\s*([a-z-]+)\s*:\s*([^;]+)", body))
        fg = _colour(declarations.get("color", ""))
        if fg is None or "svg" in selector:  # chart fills are not text on white
            continue
        bg = _colour(declarations.get("background", "")) or "#ffffff"
        checked.append(selector.strip())
        assert contrast(fg, bg) >= AA, (selector.strip(), fg, bg, round(contrast(fg, bg), 2))
    assert any(".bucket-high" in s for s in checked)


async def test_favicon_is_served(aiohttp_client, wired_settings, pool) -> None:
    from devmetrics_app.web.app import create_app

    app = create_app(wired_settings, database_url=wired_settings.database_url.get(),
                     redis_url=wired_settings.redis_url.get())
    client = await aiohttp_client(app)
    for path in ("/favicon.ico", "/static/favicon.svg"):
        response = await client.get(path)
        assert response.status == 200 and "<svg" in await response.text(), path
        assert response.headers["Content-Type"].startswith("image/svg+xml")
