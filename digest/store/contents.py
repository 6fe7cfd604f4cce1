"""An edition's contents (its sections, clusters and stories, as ranked and fitted) as JSON,
kept with the edition so that every variant of it, on any run, is built from the edition
itself and never from the stories of the day the run happens on.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from digest.errors import StoreError
from digest.model import Cluster, Edition, Image, Section, Story
from digest.store.convert import dt, iso


def edition_json(edition: Edition) -> str:
    """The edition as one JSON document (every field of every value, so fields added to the
    model later are kept without a change here)."""
    return json.dumps({
        "id": edition.id, "newsletter": edition.newsletter, "created": iso(edition.created),
        "sections": [{"name": s.name, "clusters": [_cluster(c) for c in s.clusters]}
                     for s in edition.sections],
    })


def edition_from_json(text: str, edition_id: str) -> Edition:
    """The edition `edition_json` wrote.

    Raises:
        StoreError: the document is not one `edition_json` wrote (a damaged database).
    """
    try:
        data = json.loads(text)
        return Edition(
            id=data["id"], newsletter=data["newsletter"], created=dt(data["created"]),
            sections=tuple(Section(s["name"], tuple(_cluster_from(c) for c in s["clusters"]))
                           for s in data["sections"]),
        )
    except (ValueError, KeyError, TypeError) as e:
        raise StoreError(f"edition {edition_id}: its stored contents cannot be read ({e}); "
                         "the state database is damaged: restore it from a backup") from e


def _cluster(cluster: Cluster) -> dict[str, Any]:
    fields = {f.name: getattr(cluster, f.name) for f in dataclasses.fields(cluster)}
    fields["stories"] = [_story(s) for s in cluster.stories]
    fields["components"] = dict(cluster.components)
    return fields


def _story(story: Story) -> dict[str, Any]:
    fields = {f.name: getattr(story, f.name) for f in dataclasses.fields(story)}
    fields["published"] = iso(story.published)
    fields["categories"] = list(story.categories)
    fields["image"] = dataclasses.asdict(story.image) if story.image else None
    return fields


def _cluster_from(data: dict[str, Any]) -> Cluster:
    return Cluster(**{**data, "stories": tuple(_story_from(s) for s in data["stories"])})


def _story_from(data: dict[str, Any]) -> Story:
    image = data.get("image")
    return Story(**{**data, "published": dt(data["published"]),
                    "categories": tuple(data.get("categories", ())),
                    "image": Image(**image) if image else None})
