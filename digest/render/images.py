"""Render's pictures: which of a story's images may be shown, and at what size.

In: a story's `Image` (absolute http(s) URL, maybe its pixel size) and the box it goes in. Out:
an `ImageBox` with the size to draw it at, the size Outlook for Windows draws it at (Word
cannot crop), and its alt text; or None when it must not be shown (not http(s), a tracking
pixel, or taller than the box allows: no picture is better than a tall one squeezed in).
"""

from __future__ import annotations

from dataclasses import dataclass

from digest.ingest.sanitize import absolute_http_url, cap, one_line
from digest.model import Image, Story

CONTENT_WIDTH = 536  # the 600 px column less its 32 px padding on each side
LEAD_MAX_HEIGHT = 300  # the lead headline starts this far down at most on a desktop
THUMB_WIDTH = 120
THUMB_HEIGHT = 80  # one shape for every thumbnail: 3:2, the commonest news photo
ALT_LIMIT = 200
TALLEST_LEAD = 1.0  # height over width: a portrait lead would crop to its middle third
TALLEST_THUMB = 4 / 3  # a portrait thumbnail would be a sliver in its frame


@dataclass(frozen=True)
class ImageBox:
    """An image as the templates show it: safe URL, the size to draw it, alt text.

    `width` x `height` is the picture scaled to the box's width; `fit_width` x `fit_height`
    is the picture scaled to fit inside the box whole, the size it is drawn at.
    """

    url: str
    width: int
    height: int
    alt: str
    fit_width: int
    fit_height: int


def image_box(image: Image | None, width: int, story: Story | None = None,
              max_height: int | None = None, tallest: float = TALLEST_LEAD) -> ImageBox | None:
    """An image scaled to `width` px wide, or None when it must not be shown.

    Only absolute http(s) images are shown, and never a 1x1 (a tracking pixel) nor one more
    than `tallest` times as tall as wide. Without known dimensions the height assumes 3:2, the
    commonest news photo shape; the stylesheet lets clients that can keep the real proportions.
    """
    if image is None:
        return None
    url = absolute_http_url(image.url)
    if not url or (image.width is not None and image.width <= 1) or (
        image.height is not None and image.height <= 1
    ):
        return None
    ratio = image.height / image.width if image.width and image.height else 2 / 3
    if ratio > tallest:
        return None
    height = max(1, round(width * ratio))
    limit = max_height or height
    fit_height = min(height, limit)
    fit_width = width if height <= limit else max(1, round(fit_height / ratio))
    alt = one_line(image.alt) or (cap(one_line(story.title), 300) if story else "")
    return ImageBox(url=url, width=width, height=height, alt=cap(alt, ALT_LIMIT),
                    fit_width=fit_width, fit_height=fit_height)


def lead_box(story: Story | None) -> ImageBox | None:
    """The lead story's picture, scaled to fit whole inside the column's 536 x 300 px: a wide
    one fills the width, a 3:2 one is 450 x 300, centred. Nothing is cropped, so no client
    needs overflow or object-fit (Yahoo's Android app has neither)."""
    if story is None:
        return None
    return image_box(story.image, CONTENT_WIDTH, story, LEAD_MAX_HEIGHT, TALLEST_LEAD)


@dataclass(frozen=True)
class Thumb:
    """A thumbnail in its fixed 120 x 80 px frame: the picture scaled to fit whole, and the
    padding that centres it (the frame's background shows in the margins)."""

    box: ImageBox
    top: int
    left: int

    @property
    def frame_width(self) -> int:
        return THUMB_WIDTH - self.left

    @property
    def frame_height(self) -> int:
        return THUMB_HEIGHT - self.top


def thumb_box(image: Image | None, story: Story | None = None) -> Thumb | None:
    """A thumbnail for the fixed 120 x 80 px frame, or None (see `image_box`)."""
    box = image_box(image, THUMB_WIDTH, story, THUMB_HEIGHT, tallest=TALLEST_THUMB)
    if box is None:
        return None
    return Thumb(box, top=(THUMB_HEIGHT - box.fit_height) // 2,
                 left=(THUMB_WIDTH - box.fit_width) // 2)
