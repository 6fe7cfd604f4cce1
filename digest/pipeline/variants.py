"""Orchestrate variants: before any message of an edition goes out, every variant its readers
need is rendered from the edition's stored contents and stored with it (or kept as empty).

The send that follows only looks renders up (`EditionVariants`), so every run of an edition,
by any process, sends each reader the render stored for their topics; a variant first needed
by a later run (a reader who joined, or changed topics, mid-edition) is built from the
edition's own stories, never from the stories of the day that run happens on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from digest.model import Edition, Rendered, Subscriber
from digest.render.variants import EditionVariants, plan_variants, variant_key
from digest.store import Store

log = logging.getLogger(__name__)


def prepare_variants(
    store: Store,
    base: Rendered,
    content: Edition | None,
    readers: Iterable[Subscriber],
    render: Callable[[Edition], Rendered],
    keep: bool,
) -> EditionVariants:
    """Render and store each variant `readers` need that the edition does not have yet.

    Args:
        store: the state database holding the edition.
        base: the whole edition as rendered.
        content: what the edition carried (None for an edition stored by an older digest:
            its missing variants cannot be built, and their readers are not sent to).
        readers: the edition's readers now.
        render: renders an edition (the pipeline's `render`).
        keep: store what is rendered (False for a dry run, which keeps nothing).
    Returns:
        The renders this run sends from: as stored, so the first process to store a variant
        decides it for all.
    """
    edition_id = base.edition_id
    stored = dict(store.variants(edition_id))
    wanted = {variant_key(r.topics) for r in readers} - set(stored) - {""}
    if wanted and content is None:
        log.warning("edition %s was stored without its stories (by an older digest): readers "
                    "of the topics %s are not sent it", edition_id, ", ".join(sorted(wanted)))
        return EditionVariants(base, stored)
    for key, variant in plan_variants(content, sorted(wanted)).items() if content else ():
        rendered = render(variant) if variant is not None else None
        if not keep:
            stored[key] = rendered
        elif rendered is None:
            store.save_empty_variant(edition_id, key)
        else:
            store.save_variant(key, rendered)
    return EditionVariants(base, store.variants(edition_id) if keep and wanted else stored)
