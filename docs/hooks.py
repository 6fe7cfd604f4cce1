"""MkDocs hook: the reference pages' markers become Markdown generated from the code.

`<!-- reference:config -->` becomes the configuration reference (digest/config.py's
dataclasses) and `<!-- reference:commands -->` the command reference (the argparse parser),
at every build, so neither can fall behind the code and nobody edits them by hand. A marker
this hook does not know fails the build instead of vanishing from the page.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from mkdocs.exceptions import PluginError

from digest.cli import reference

MARKERS: dict[str, Callable[[], str]] = {
    "<!-- reference:config -->": reference.config_markdown,
    "<!-- reference:commands -->": reference.commands_markdown,
}


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    for marker, render in MARKERS.items():
        if marker in markdown:
            markdown = markdown.replace(marker, render())
    unknown = re.search(r"<!-- reference:[^>]*-->", markdown)
    if unknown:
        raise PluginError(f"{page.file.src_path}: unknown marker {unknown.group(0)}; "
                          f"known: {', '.join(MARKERS)}")
    return markdown
