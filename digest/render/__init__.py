"""Render: an `Edition` and the templates (the package's own in `templates/`, or the operator's
overrides) in; a `Rendered` HTML and text part per variant, CSS inlined once, within the size
budget, with placeholders for what differs per reader."""
