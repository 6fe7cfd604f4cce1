"""The publisher's brand: `[newsletter]` language, logo_url, accent_color, footer_text and
postal_address reach the email and the reader pages (one palette for both), a faint accent is
refused when the config is read, and `digest send` warns of what providers and CAN-SPAM
expect (https unsubscribe links, a postal address), refusing with --strict."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import REPO, set_config
from editions import sample_edition
from emailcheck import run_axe

from digest.audience.pages import preferences_page, unsubscribe_page
from digest.cli import main
from digest.colors import contrast
from digest.config import load_config
from digest.errors import ConfigError
from digest.render.brand import PALETTE, Brand, brand_for
from digest.render.edition import render_edition

NAME_LINE = 'name = "Political IQ Daily"'
BRAND = {
    NAME_LINE: NAME_LINE + '\nlanguage = "pt-BR"\nlogo_url = "https://cdn.example.com/logo.png"'
               '\naccent_color = "#0b6e4f"\nfooter_text = "Published by Example Media."'
               '\npostal_address = "1 Main St, Springfield"',
}


def test_brand_keys_reach_the_email_and_the_pages(project: Path) -> None:
    config = project / "config.toml"
    set_config(config, BRAND)
    brand = brand_for(load_config(config).newsletter)
    rendered = render_edition(sample_edition(), REPO / "templates", ZoneInfo("UTC"), "0" * 16,
                              {"base_url": "https://news.example.com", "brand": brand})
    page = rendered.html
    assert '<html lang="pt-BR"' in page and 'lang="pt-BR" dir="ltr"' in page
    assert 'src="https://cdn.example.com/logo.png"' in page
    assert "#0b6e4f" in page and "#b3261e" not in page
    assert "Published by Example Media." in page and "1 Main St, Springfield" in page
    assert "Published by Example Media." in rendered.text
    assert "1 Main St, Springfield" in rendered.text
    reader_page = unsubscribe_page("Daily", "a@example.com", "x", "y", brand=brand)
    assert "#0b6e4f" in reader_page and "cdn.example.com/logo.png" in reader_page
    assert "#8a1c1c" not in reader_page and '<html lang="pt-BR">' in reader_page
    # Without a brand, pages and email share the default accent.
    assert Brand().accent in unsubscribe_page("Daily", "a@example.com", "x", "y")


@pytest.mark.parametrize("accent", ["#b3261e", "#0b6e4f", "#1a56db", "#000000"])
def test_every_accent_reads_in_light_and_dark(accent: str) -> None:
    brand = Brand(accent=accent)
    assert contrast(brand.accent, PALETTE.surface) >= 4.5
    assert contrast(brand.accent_dark, PALETTE.dark_surface) >= 4.5


@pytest.mark.parametrize(("line", "message"), [
    ('accent_color = "#ffcc00"', "under the 4.5:1 that text needs"),
    ('accent_color = "red"', "not a colour written #rrggbb"),
    ('language = "english please"', "not a language tag"),
    ('logo_url = "javascript:alert(1)"', "absolute https URL"),
])
def test_bad_brand_keys_are_refused_with_the_key(project: Path, line: str, message: str) -> None:
    config = project / "config.toml"
    set_config(config, {NAME_LINE: NAME_LINE + "\n" + line})
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    key = "newsletter." + line.split(" ")[0]
    assert key in str(caught.value) and message in str(caught.value)


def test_send_warns_of_http_links_and_no_postal_address(
    project: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIGEST_SECRET", "a-secret-long-enough-for-tokens")
    config = project / "config.toml"
    args = ["send", "--config", str(config), "--dry-run"]
    with caplog.at_level(logging.WARNING, logger="digest.send"):
        assert main(args) == 0
    assert "is not https" in caplog.text and "RFC 8058" in caplog.text
    assert "postal_address is empty" in caplog.text
    caplog.clear()
    assert main([*args, "--strict"]) == 2  # refused, nothing built or sent
    set_config(config, {'base_url = "http://127.0.0.1:8080"':
                        'base_url = "https://news.example.com"\n'
                        'postal_address = "1 Main St, Springfield"'})
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="digest.send"):
        assert main([*args, "--strict"]) == 0
    assert "is not https" not in caplog.text and "postal_address" not in caplog.text


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("accent", ["#b3261e", "#0b6e4f"])
def test_reader_pages_pass_axe_in_the_brand(
    tmp_path: Path, browser: Any, accent: str, scheme: str
) -> None:
    """The pages a reader lands on from the email: the brand's colours read in both modes."""
    brand = Brand(accent=accent)
    shown = {
        "unsubscribe": unsubscribe_page("Daily", "a@example.com", "x", "y", brand=brand),
        "preferences": preferences_page("Daily", "a@example.com", "x", "y", ["World", "Tech"],
                                        ["World"], "daily", True, False, brand=brand),
    }
    for name, html in shown.items():
        path = tmp_path / f"{name}.html"
        path.write_text(html, encoding="utf-8")
        page = browser.new_page(viewport={"width": 375, "height": 800}, color_scheme=scheme)
        try:
            page.goto(path.as_uri())
            violations = run_axe(page)
            assert violations == [], (name, [(v["id"], v["impact"]) for v in violations])
        finally:
            page.close()
