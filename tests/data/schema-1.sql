
CREATE TABLE IF NOT EXISTS feeds (
    url TEXT PRIMARY KEY,
    etag TEXT NOT NULL DEFAULT '',
    last_modified TEXT NOT NULL DEFAULT '',
    last_fetch TEXT,
    last_status TEXT,
    last_error TEXT,
    failures INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS stories (
    feed_url TEXT NOT NULL,
    story_id TEXT NOT NULL,
    url TEXT NOT NULL,
    title TEXT NOT NULL,
    summary_html TEXT NOT NULL,
    summary_text TEXT NOT NULL,
    published TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    author TEXT NOT NULL,
    categories TEXT NOT NULL,
    image TEXT,
    source TEXT NOT NULL,
    section TEXT NOT NULL,
    weight REAL NOT NULL,
    featured INTEGER NOT NULL,
    PRIMARY KEY (feed_url, story_id)
);
CREATE INDEX IF NOT EXISTS stories_published ON stories (published);
CREATE TABLE IF NOT EXISTS editions (
    id TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    subject TEXT NOT NULL,
    html TEXT NOT NULL,
    text TEXT NOT NULL,
    placeholders TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS edition_stories (
    edition_id TEXT NOT NULL REFERENCES editions (id),
    feed_url TEXT NOT NULL,
    story_id TEXT NOT NULL,
    PRIMARY KEY (edition_id, feed_url, story_id)
);
CREATE TABLE IF NOT EXISTS deliveries (
    edition_id TEXT NOT NULL REFERENCES editions (id),
    email TEXT NOT NULL,
    status TEXT NOT NULL,
    reply TEXT NOT NULL DEFAULT '',
    message_id TEXT NOT NULL DEFAULT '',
    attempts INTEGER NOT NULL DEFAULT 0,
    updated TEXT NOT NULL,
    PRIMARY KEY (edition_id, email)
);
CREATE TABLE IF NOT EXISTS suppressions (
    email TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    created TEXT NOT NULL
);
    