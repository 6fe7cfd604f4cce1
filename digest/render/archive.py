"""Render, public pages: an edition as the archive shows it to anyone.

In: a stored edition's render, the base URL, the newsletter's name and how to subscribe. Out:
the page with no reader's own value in it: each innermost block (paragraph, cell, list item,
heading) of the render that holds a reader's address, name, unsubscribe or preferences link
is taken out, and the first one instead says how to subscribe. Found by the placeholders, not
by the markup, so it holds for any operator's templates.
"""

from __future__ import annotations

import dataclasses
import re

import lxml.html
from lxml.html import HtmlElement

from digest.model import Rendered
from digest.render.edition import archive_page

PERSONAL = ("email", "name", "unsubscribe_url", "preferences_url")
BLOCKS = frozenset({"p", "li", "td", "th", "div", "h1", "h2", "h3", "h4", "h5", "h6",
                    "blockquote", "tr", "table"})


def public_page(rendered: Rendered, base_url: str, newsletter: str, contact: str,
                subscribe_url: str = "") -> str:
    """The edition's archive page, with no personal link or address.

    Args:
        rendered: the edition as sent (with its placeholders).
        base_url: where `digest serve` answers, without a trailing slash.
        newsletter: its name, for the line on how to subscribe.
        contact: the newsletter's address, to write to for a subscription.
        subscribe_url: the subscribe page, when there is one (then linked instead).
    Returns:
        The HTML page.
    """
    marks = [rendered.placeholders[f] for f in PERSONAL if f in rendered.placeholders]
    if not marks or not any(m in rendered.html for m in marks):
        return archive_page(rendered, base_url)
    doc = lxml.html.document_fromstring(rendered.html)
    targets = _personal_blocks(doc, marks)
    for n, block in enumerate(targets):
        if n == 0:
            _say_how_to_subscribe(block, newsletter, contact, subscribe_url)
        else:
            block.drop_tree()
    doctype = re.match(r"\s*(<!DOCTYPE[^>]*>)", rendered.html, re.I)
    html = lxml.html.tostring(doc, encoding="unicode", doctype=doctype[1] if doctype else None)
    return archive_page(dataclasses.replace(rendered, html=html), base_url)


def _personal_blocks(doc: HtmlElement, marks: list[str]) -> list[HtmlElement]:
    """The innermost blocks holding a mark, outermost-first order of the document, none
    inside another."""
    found: list[HtmlElement] = []
    for element in doc.iter():
        if not isinstance(element.tag, str):
            continue  # a comment or processing instruction
        own = [element.text or "", *(str(v) for v in element.attrib.values())]
        if any(m in text for m in marks for text in own):
            found.append(_block_of(element))
        if element.tail and any(m in element.tail for m in marks):
            parent = element.getparent()
            if parent is not None:
                found.append(_block_of(parent))
    unique = list(dict.fromkeys(found))
    return [b for b in unique if not any(a is not b and b in a.iterancestors() for a in unique)]


def _block_of(element: HtmlElement) -> HtmlElement:
    for candidate in (element, *element.iterancestors()):
        if candidate.tag in BLOCKS:
            return candidate
    return element


def _say_how_to_subscribe(block: HtmlElement, newsletter: str, contact: str,
                          subscribe_url: str) -> None:
    """Replace the block's content by one line on how to get the newsletter by email."""
    for child in list(block):
        block.remove(child)
    block.text = f"This is the public archive of {newsletter}. "
    link = lxml.html.Element("a", href=subscribe_url or f"mailto:{contact}")
    if subscribe_url:
        link.text = "Subscribe"
        link.tail = " to get it by email."
    else:
        block.text += "To get it by email, write to "
        link.text = contact
        link.tail = "."
    block.append(link)
