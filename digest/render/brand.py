"""The publisher's brand and the one palette built from it: used by the email's stylesheet and by
the pages `digest serve` shows (unsubscribe, preferences, archive, subscribe), so a reader who
clicks from the email lands on a page of the same colours and logo.

In: the `[newsletter]` brand keys (language, logo_url, accent_color, footer_text,
postal_address). Out: a `Brand` whose colours are ready to write into CSS: every text colour
reads at 4.5:1 or more on the surface it is drawn on, in light and in dark mode.
"""

from __future__ import annotations

from dataclasses import dataclass

from digest.colors import readable_on
from digest.config import NewsletterConfig

DEFAULT_ACCENT = NewsletterConfig.accent_color  # one default, written in config.py


@dataclass(frozen=True)
class Palette:
    """Every colour the email and the pages use. Light first, then the dark-mode twin."""

    page: str = "#eceff3"  # around the content column
    surface: str = "#ffffff"  # the content column
    ink: str = "#111827"  # headlines
    body: str = "#323f4b"  # summaries
    muted: str = "#4b5763"  # meta lines, footer: 7:1 on the surface, 6:1 on the page
    rule: str = "#d9dee4"  # hairlines
    link: str = "#1a56db"
    footer: str = "#f5f7fa"
    dark_page: str = "#0f1419"
    dark_surface: str = "#1a2129"
    dark_ink: str = "#f5f7fa"
    dark_body: str = "#d9dee4"
    dark_muted: str = "#b8c2cc"
    dark_rule: str = "#323f4b"
    dark_link: str = "#8fb8ff"
    dark_footer: str = "#141a20"


PALETTE = Palette()


@dataclass(frozen=True)
class Brand:
    """What an operator sets to make the email theirs without editing templates."""

    language: str = "en"  # BCP 47 tag of the edition's text, for screen readers and hyphenation
    logo_url: str = ""  # absolute https image shown in the masthead; empty: the name in type
    accent: str = DEFAULT_ACCENT  # #rrggbb; config checks it reads on white
    footer_text: str = ""  # one more line in the footer (who publishes it, why)
    postal_address: str = ""  # the sender's postal address, shown in the footer when set
    palette: Palette = PALETTE

    @property
    def accent_dark(self) -> str:
        """The accent as dark mode shows it: the same hue, light enough to read."""
        return readable_on(self.accent, self.palette.dark_surface)

    @property
    def accent_on_page(self) -> str:
        """The accent where it is drawn on the grey page around the column (the pages'
        buttons and brand line), darkened if the page's grey would make it too faint."""
        return readable_on(self.accent, self.palette.page)


DEFAULT_BRAND = Brand()


def brand_for(newsletter: NewsletterConfig) -> Brand:
    """The brand an operator's `[newsletter]` keys describe (checked when the config is read)."""
    return Brand(language=newsletter.language, logo_url=newsletter.logo_url,
                 accent=newsletter.accent_color, footer_text=newsletter.footer_text,
                 postal_address=newsletter.postal_address)
