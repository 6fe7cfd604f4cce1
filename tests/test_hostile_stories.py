"""One story, one loss: a story whose fields break rendering is left out of the edition
(with a log line naming it), never the edition; and numbers and sizes from feeds are bounded
before they reach a template."""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from conftest import REPO
from editions import edition, story

from digest.model import Cluster, Image, Story
from digest.render.budget import render_within_budget

ZONE = ZoneInfo("America/New_York")


def breakers() -> dict[str, Story]:
    """Stories whose fields a template cannot draw, each in its own way."""
    base = story(90, "Broken story")
    return {
        "a 400-digit image height": dataclasses.replace(
            base, image=Image("https://img.example/a.jpg", 3, 10**400)),
        "a publication time without a zone": dataclasses.replace(
            base, published=datetime(2023, 11, 24, 8, 0)),
    }


@pytest.mark.parametrize("kind", sorted(breakers()))
@pytest.mark.parametrize("where", ["lead", "thumbnail"])
def test_a_story_that_breaks_rendering_is_left_out_and_the_edition_goes_out(
    kind: str, where: str, caplog: pytest.LogCaptureFixture
) -> None:
    bad = breakers()[kind]
    good = [story(n, f"Good story {n}") for n in range(3)]
    if where == "lead":
        clusters = [Cluster((bad,), 9.0), *(Cluster((s,), 1.0) for s in good)]
    else:
        clusters = [Cluster((good[0],), 9.0), Cluster((bad,), 5.0),
                    *(Cluster((s,), 1.0) for s in good[1:])]
    with caplog.at_level(logging.WARNING):
        fitted = render_within_budget(edition([("World", clusters)]), REPO / "templates",
                                      ZONE, "0123456789abcdef", {"base_url": "https://x.example"})
    assert [s.title for s in fitted.edition.stories] == [f"Good story {n}" for n in range(3)]
    assert all(f"Good story {n}" in fitted.rendered.html for n in range(3))
    assert "Broken story" not in fitted.rendered.html
    assert any("Broken story" in r.getMessage() and "breaks rendering" in r.getMessage()
               for r in caplog.records)
