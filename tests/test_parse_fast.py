"""The fast path (digest/fastfeed.py, fastentry.py) gives exactly what feedparser gives.

Every corpus feed, and generated RSS 2.0, RSS 1.0 and Atom feeds built from fragments that
hit each rule (namespaced elements, CDATA, entities, relative links, xml:base, odd dates,
repeated elements, markup inside fields), are read both ways: the fast path's entries and
feedparser's, each through `parse._raw`. Where the fast path accepts a feed, the items must
be equal; where it declines (None), feedparser reads the feed. It must never guess.
"""

from __future__ import annotations

import random
from pathlib import Path

import feedparser
import pytest

from digest.ingest.fastfeed import read_entries
from digest.ingest.feedbytes import prepare
from digest.ingest.jsonfeed import RawItem
from digest.ingest.parse import _raw

BASE = "https://example.org/feeds/main.xml"
NS = ('xmlns:content="http://purl.org/rss/1.0/modules/content/" '
      'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:media="http://search.yahoo.com/mrss/" '
      'xmlns:atom="http://www.w3.org/2005/Atom" '
      'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd" '
      'xmlns:feedburner="http://rssnamespace.org/feedburner/ext/1.0" '
      'xmlns:slash="http://purl.org/rss/1.0/modules/slash/" '
      'xmlns:wfw="http://wellformedweb.org/CommentAPI/" '
      'xmlns:dcterms="http://purl.org/dc/terms/" xmlns:x="https://unknown.example/ns"')


def slow_items(xml_bytes: bytes, base: str) -> list[RawItem]:
    parsed = feedparser.parse(
        xml_bytes, response_headers={"content-type": "application/xml; charset=utf-8"},
        sanitize_html=False, resolve_relative_uris=False,
    )
    return [_raw(e, base) for e in parsed.get("entries") or []]


def both(body: bytes) -> tuple[list[RawItem] | None, list[RawItem]]:
    xml_bytes = prepare(body, "application/xml").xml_bytes
    entries = read_entries(xml_bytes)
    fast = None if entries is None else [_raw(e, BASE) for e in entries]
    return fast, slow_items(xml_bytes, BASE)


def rss(items: str, channel: str = "<title>T</title><link>https://example.org/</link>",
        root: str = f'<rss version="2.0" {NS}>') -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?>\n{root}<channel>{channel}{items}'
            "</channel></rss>").encode()


def atom(entries: str, feed: str = "<title>T</title><id>urn:x</id>",
         root: str = f'<feed xmlns="http://www.w3.org/2005/Atom" {NS}>') -> bytes:
    return f'<?xml version="1.0" encoding="utf-8"?>\n{root}{feed}{entries}</feed>'.encode()


def rdf(items: str) -> bytes:
    return ('<?xml version="1.0"?>\n<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-'
            f'syntax-ns#" xmlns="http://purl.org/rss/1.0/" {NS}><channel rdf:about="https://'
            f'example.org/"><title>T</title></channel>{items}</rdf:RDF>').encode()


def test_every_corpus_feed_the_fast_path_takes_reads_as_feedparser_reads_it(
    corpus: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    taken, declined = [], []
    for path in sorted(corpus.iterdir()):
        if path.suffix not in (".xml", ".rdf", ".rss"):
            continue
        fast, slow = both(path.read_bytes())
        if fast is None:
            declined.append(path.name)
            continue
        taken.append(path.name)
        assert slow, path.name  # feedparser really read it: the comparison is not vacuous
        assert fast == slow, path.name
    with capsys.disabled():
        print(f"\nfast path: {len(taken)} of {len(taken) + len(declined)} corpus XML feeds")
    # 59 of 70 when this was written (RSS 2.0, Atom, RSS 1.0 alike): a floor, not the figure.
    assert len(taken) >= 55, declined


# Item fragments for each rule: values that feedparser post-processes in some way, elements
# it maps into fields we read, and elements it stores where we never look.
RSS_FRAGMENTS = [
    "<title>  Spaced  title \n</title>",
    "<title>AT&amp;T &lt;b&gt;bold&lt;/b&gt;</title>",
    "<title><![CDATA[Caf\u00e9 <i>x</i> & y]]></title>",
    "<title>Ã©tÃ© mojibake</title>",
    "<title>smart \u0093quotes\u0094 \u0080</title>",
    "<title></title>",
    "<dc:title>DC title</dc:title>",
    "<link>https://example.org/a?x=1&amp;y=2&amp;amp;z=3</link>",
    "<link>/relative/path.html</link>",
    "<link>http:///three-slashes.example/x</link>",
    "<link></link>",
    "<link>  https://example.org/spaced  </link>",
    '<atom:link href="https://example.org/atom-alt"/>',
    '<atom:link rel="self" href="/self.xml"/>',
    '<atom:link rel="alternate" type="text/html" href="relative-alt.html"/>',
    '<atom:link rel="enclosure" type="image/png" href="/pic.png"/>',
    "<guid>https://example.org/guid-as-link</guid>",
    '<guid isPermaLink="false">tag:example.org,2026:1</guid>',
    '<guid isPermaLink="true">/relative-guid</guid>',
    '<guid isPermaLink="TRUE">odd-case</guid>',
    "<guid></guid>",
    "<pubDate>Sat, 25 Apr 2026 12:00:00 GMT</pubDate>",
    "<pubDate>2026-04-25T12:00:00+02:00</pubDate>",
    "<pubDate>not a date</pubDate>",
    "<pubDate></pubDate>",
    "<dc:date>2026-04-24T08:30:00Z</dc:date>",
    "<atom:updated>2026-04-23T08:30:00-05:00</atom:updated>",
    "<atom:published>Thu, 23 Apr 2026 08:30:00 +0100</atom:published>",
    "<description>&lt;p&gt;Hello &lt;a href=\"/x\"&gt;link&lt;/a&gt;&lt;/p&gt;</description>",
    "<description><![CDATA[<p>raw <img src=\"/i.png\" width=\"1\"></p>]]></description>",
    "<description>   </description>",
    "<itunes:summary>Podcast summary &amp; more</itunes:summary>",
    "<content:encoded><![CDATA[<p>Full <b>body</b> <img src='/c.jpg'></p>]]></content:encoded>",
    "<content:encoded></content:encoded>",
    "<content:encoded>&lt;p&gt;escaped body&lt;/p&gt;</content:encoded>",
    '<category domain="https://example.org/tax">Politics</category>',
    "<category>Politics</category>",
    "<category></category>",
    '<category domain="d"></category>',
    "<category>  Science </category>",
    "<dc:subject>Economy</dc:subject>",
    "<itunes:keywords>one, two,,three </itunes:keywords>",
    "<author>jane@example.org (Jane Doe)</author>",
    "<author>Plain Author</author>",
    "<dc:creator>Max Mustermann</dc:creator>",
    "<dc:creator><![CDATA[Écrivain <x@y.fr>]]></dc:creator>",
    "<itunes:author>Pod Host</itunes:author>",
    '<enclosure url="https://example.org/a.jpg" type="image/jpeg" length="123"/>',
    '<enclosure url="/rel.mp3" type="audio/mpeg" length="1"/>',
    '<enclosure URL="https://example.org/upper.png" TYPE="IMAGE/PNG"/>',
    '<media:content url="https://example.org/m.jpg" medium="image" width="640" height="360"/>',
    '<media:content url="https://example.org/v.mp4" type="video/mp4"/>',
    '<media:content url="https://example.org/t.jpg" type="image/jpeg" width="1" height="1"/>',
    '<media:thumbnail url="https://example.org/th.jpg" width="120"/>',
    "<media:thumbnail>/text-thumb.jpg</media:thumbnail>",
    '<media:group><media:content url="https://example.org/g.jpg" medium="image"/>'
    '<media:thumbnail url="https://example.org/gt.jpg"/><media:credit>AP</media:credit>'
    "</media:group>",
    "<feedburner:origLink>https://example.org/orig?utm_source=fb&amp;a=1</feedburner:origLink>",
    "<comments>/comments</comments>",
    "<slash:comments>12</slash:comments>",
    "<wfw:commentRss>https://example.org/c/feed</wfw:commentRss>",
    "<itunes:duration>12:34</itunes:duration>",
    '<itunes:image href="https://example.org/pod.jpg"/>',
    "<itunes:explicit>no</itunes:explicit>",
    "<x:anything>unknown namespace</x:anything>",
    '<x:attrs a="1"/>',
    "<byline>Unprefixed unknown</byline>",
    "<Title>Upper-case name</Title>",
    "<PUBDATE>Fri, 24 Apr 2026 10:00:00 +0200</PUBDATE>",
    '<link xml:base="https://lb.example/dir/">rel-in-base</link>',
    '<description base="https://b.example/">&lt;a href="x"&gt;based&lt;/a&gt;</description>',
    '<link rel="enclosure" type="image/gif">https://example.org/text-enclosure.gif</link>',
    "<title>&#x93;charref&#147; &#8220;ok&#8221;</title>",
    "<author>Name Only (no email)</author>",
    '<content:encoded xml:base="https://content.example/">&lt;img src="c.png"&gt;'
    "</content:encoded>",
    "<dcterms:modified>2026-04-22T00:00:00Z</dcterms:modified>",
    "<dcterms:issued>2026-04-21T00:00:00Z</dcterms:issued>",
    "<media:description>Media description</media:description>",
    "<media:title>Media title</media:title>",
    '<media:content url="https://example.org/mc.jpg" medium="image"><media:title>Inner'
    "</media:title><media:description>Inner &lt;b&gt;desc&lt;/b&gt;</media:description>"
    "<media:credit>c</media:credit></media:content>",
    "<media:group><media:title>G</media:title><media:description>GD</media:description>"
    '<media:community><media:starRating average="4"/></media:community></media:group>',
    '<x:outer><x:inner a="1">t</x:inner></x:outer>',
    '<enclosure x:url="https://example.org/ns-attr.jpg" type="image/jpeg"/>',
    '<media:content media:url="https://example.org/prefixed-attr.jpg" url="/plain.jpg"/>',
    "<image>https://example.org/item-image.jpg</image>",
    '<source url="https://source.example/rss">Source &amp; name</source>',
    "<title>Second title</title>",
]

ATOM_FRAGMENTS = [
    "<id>https://example.org/entry/1</id>",
    "<id>tag:example.org,2026:entry-2</id>",
    "<id>/relative-id</id>",
    "<title>Plain &amp; simple</title>",
    '<title type="html">&lt;b&gt;Bold&lt;/b&gt; title</title>',
    '<title type="text"><![CDATA[1 < 2]]></title>',
    "<title></title>",
    '<link href="https://example.org/e1"/>',
    '<link rel="alternate" type="text/html" href="/rel-e2"/>',
    '<link rel="alternate" type="application/pdf" href="/doc.pdf"/>',
    '<link rel="replies" href="https://example.org/replies"/>',
    '<link rel="enclosure" type="image/jpeg" href="https://example.org/enc.jpg"/>',
    '<link rel="alternate" href="a?x=1&amp;y=2"/>',
    "<published>2026-04-25T12:00:00Z</published>",
    "<published>2026-04-25</published>",
    "<updated>2026-04-26T01:02:03+09:00</updated>",
    "<updated>yesterday</updated>",
    '<summary type="html">&lt;p&gt;Summary &lt;a href="/s"&gt;x&lt;/a&gt;&lt;/p&gt;</summary>',
    "<summary>Plain summary</summary>",
    '<content type="html"><![CDATA[<p>Body <img src="img/b.png" width="300"></p>]]></content>',
    '<content type="text">Text body</content>',
    '<content type="html" xml:base="https://cdn.example.net/posts/">&lt;p&gt;based&lt;/p&gt;'
    "</content>",
    "<author><name>Jane</name></author>",
    "<author><name>Jane</name><email>jane@example.org</email></author>",
    "<author><email>only@example.org</email><uri>/about</uri></author>",
    "<author><name> </name></author>",
    "<contributor><name>Helper</name></contributor>",
    '<category term="tech" scheme="https://example.org/cats" label="Technology"/>',
    '<category term="tech"/>',
    "<category>text-term</category>",
    '<media:thumbnail url="https://example.org/at.jpg" width="320" height="180"/>',
    "<feedburner:origLink>https://example.org/orig-atom</feedburner:origLink>",
    "<rights>CC-BY</rights>",
    "<x:unknown>ignored</x:unknown>",
    "<author>Text author <name>N</name></author>",
    "<author><name>A</name></author><author><email>b@example.org</email></author>",
    "<author><uri>https://example.org/me</uri><name>Later Name</name></author>",
    '<link rel="ALTERNATE" href="/upper-rel"/>',
    '<link href="x.html" type="TEXT/HTML"/>',
    '<link href=""/>',
    '<id xml:base="https://idbase.example/">rel-id</id>',
    '<title xml:base="http://t.example/">Based title</title>',
    '<summary type="text/html" xml:base="/sb/">x</summary>',
    '<content type="text/plain">p &amp; q</content>',
    '<content type="html" xml:base="relative/">rel base</content>',
    '<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>Hi <b>there</b> &amp; '
    '<a href="/x" title="a &quot;q&quot;">x</a></p><br/><img src="i.png"/></div></content>',
    '<summary type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">a</div>'
    '<div xmlns="http://www.w3.org/1999/xhtml">b</div></summary>',
    '<title type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">T <i>i</i></div></title>',
    '<content type="xhtml">  <xhtml:div xmlns:xhtml="http://www.w3.org/1999/xhtml" class="c">'
    '<p xml:lang="en" xml:base="https://x.example/">X</p></xhtml:div>  </content>',
    '<content type="xhtml">text before <div xmlns="http://www.w3.org/1999/xhtml">d</div>'
    "</content>",
    '<author><name>G</name><x:image src="/g.png"/></author>',
    "<media:group><media:title>Video</media:title><media:description>Desc</media:description>"
    '<media:thumbnail url="https://example.org/yt.jpg" width="480"/></media:group>',
]


def _items(rng: random.Random, fragments: list[str], tag: str, attrs: list[str]) -> str:
    items = []
    for _ in range(rng.randint(1, 5)):
        chosen = [rng.choice(fragments) for _ in range(rng.randint(0, 9))]  # repeats too
        items.append(f"<{tag}{rng.choice(attrs)}>" + "".join(chosen) + f"</{tag}>")
    return "".join(items)


@pytest.mark.parametrize("seed", range(60))
def test_generated_rss_reads_as_feedparser_reads_it(seed: int) -> None:
    rng = random.Random(seed)
    items = _items(rng, RSS_FRAGMENTS, "item", ["", "", ' xml:base="https://base.example/d/"'])
    channel = rng.choice(["<title>T</title>", '<title>T</title><atom:link rel="self" '
                          'href="https://example.org/feed"/><itunes:summary>S</itunes:summary>',
                          '<description>D</description><image><url>/i.png</url></image>',
                          "<itunes:summary>S</itunes:summary><description>D</description>",
                          "<image><url>/i.png</url><description>i</description><x:y/>"
                          "<description>j</description></image><description>D</description>",
                          "<textinput><title>t</title><description>d</description><name>q"
                          "</name><summary>s</summary><description>e</description></textinput>",
                          "<content:encoded>c</content:encoded><description>D</description>"])
    root = rng.choice([f'<rss version="2.0" {NS}>',
                       f'<rss version="2.0" {NS} xml:base="https://root.example/x/">'])
    fast, slow = both(rss(items, channel, root))
    assert fast is None or fast == slow


@pytest.mark.parametrize("seed", range(60))
def test_generated_atom_reads_as_feedparser_reads_it(seed: int) -> None:
    rng = random.Random(seed)
    entries = _items(rng, ATOM_FRAGMENTS, "entry",
                     ["", "", ' xml:base="https://entry.example/e/"', ' xml:lang="de"'])
    feed = rng.choice(["<title>T</title>", '<title>T</title><link href="https://example.org/"/>'
                       '<subtitle type="html">&lt;b&gt;S&lt;/b&gt;</subtitle>',
                       "<summary>fs</summary><summary>again</summary>"])
    root = rng.choice([f'<feed xmlns="http://www.w3.org/2005/Atom" {NS}>',
                       f'<feed xmlns="http://www.w3.org/2005/Atom" {NS} '
                       'xml:base="https://feed.example/blog/">'])
    fast, slow = both(atom(entries, feed, root))
    assert fast is None or fast == slow


@pytest.mark.parametrize("seed", range(20))
def test_generated_rss1_reads_as_feedparser_reads_it(seed: int) -> None:
    rng = random.Random(seed)
    fragments = [f for f in RSS_FRAGMENTS if not f.startswith(("<guid", "<atom"))]
    fast, slow = both(rdf(_items(rng, fragments, "item",
                                 ['', ' rdf:about="https://example.org/about/1"'])))
    assert fast is None or fast == slow


def test_generated_feeds_mostly_take_the_fast_path() -> None:
    """The equivalence tests above are not vacuous: most generated feeds are accepted."""
    taken = 0
    for seed in range(40):
        rng = random.Random(seed)
        items = [f"<item>{''.join(rng.sample(RSS_FRAGMENTS, 4))}</item>" for _ in range(3)]
        entries = [f"<entry>{''.join(rng.sample(ATOM_FRAGMENTS, 4))}</entry>" for _ in range(3)]
        for body in (rss("".join(items)), atom("".join(entries))):
            fast, slow = both(body)
            if fast is not None:
                taken += 1
                assert fast == slow
    assert taken >= 60


@pytest.mark.parametrize("body", [
    # Elements feedparser maps into fields we read, in ways not copied here.
    rss("<item><title>x</title><source><title>S</title></source></item>"),
    rss("<item><title>x</title><image><url>/i.png</url></image></item>"),
    rss('<item><content:encoded type="application/octet-stream">aGk=</content:encoded></item>'),
    rss('<item><feedburner:origLink a="1">https://e.org/</feedburner:origLink></item>'),
    rss("<item><media:title>t<x:b/></media:title></item>"),
    rss('<item><georss:point xmlns:georss="http://www.georss.org/georss">1 2</georss:point>'
        "</item>"),
    # Markup inside a field, an item where items do not go, other formats and versions.
    rss("<item><title>x <b>bold</b></title></item>"),
    rss("<item><title>x</title><item><title>nested</title></item></item>"),
    rss("<item><title>x</title></item>", root='<rss version="0.91">'),
    rss("<item><title>x</title></item>", channel="<entry><title>atom?</title></entry>"),
    rss(""),  # no items: feedparser decides what that is
    atom('<entry><content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><svg '
         'xmlns="http://www.w3.org/2000/svg"><title>s</title></svg></div></content></entry>'),
    atom('<entry><content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><body>b'
         "</body></div></content></entry>"),
    atom('<entry><content type="xhtml" xmlns:l="http://www.w3.org/1999/xlink"><div '
         'xmlns="http://www.w3.org/1999/xhtml">x</div></content></entry>'),
    rss('<item><title type="xhtml">x</title></item>'),  # xhtml outside Atom 1.0
    atom('<entry><content src="https://e.org/body"/></entry>'),
    atom("<entry><source><title>elsewhere</title></source></entry>"),
    b"<rss version='2.0'><channel><item><title>x &nbsp; y</title></item></channel></rss>",
    b"<rss version='2.0'><channel><item><title>unclosed</item></channel></rss>",
    # Hundreds of namespaces: naming an element would look through them all (feedparser
    # does; the fast path leaves such a feed to it rather than doing the same).
    rss("".join(f'<item xmlns:n{i}="https://ns.example/{i}"><n{i}:x>v</n{i}:x><title>t'
                "</title></item>" for i in range(300))),
])
def test_feeds_outside_the_subset_are_left_to_feedparser(body: bytes) -> None:
    fast, slow = both(body)
    assert fast is None


def test_unknown_namespace_bound_to_a_known_prefix_reads_as_feedparser_reads_it() -> None:
    """feedparser names an element of an unknown namespace by the prefix the document gives
    it: `media:content` in the wrong namespace still reaches its media:content handler."""
    body = rss('<item xmlns:media="https://not-mrss.example/"><title>x</title>'
               '<media:content url="https://example.org/odd.jpg" medium="image"/></item>',
               root='<rss version="2.0">')
    fast, slow = both(body)
    assert fast is None or fast == slow


# Random trees: the names the fast path models and some it must decline, nested in ways
# real feeds do and do not, with attributes that change feedparser's reading.
TREE_NAMES = [
    "title", "link", "guid", "id", "pubDate", "published", "updated", "description", "summary",
    "content", "content:encoded", "dc:creator", "dc:date", "dc:subject", "dc:title",
    "dc:description", "media:content", "media:thumbnail", "media:group", "media:title",
    "media:description", "media:credit", "enclosure", "category", "author", "itunes:summary",
    "itunes:author", "itunes:keywords", "feedburner:origLink", "x:foo", "byline", "atom:link",
    "atom:updated", "comments", "slash:comments", "contributor", "dcterms:modified",
    "itunes:image", "rights", "image", "source", "name", "url", "title",
]
TREE_INNER = ["name", "email", "uri", "x:foo", "x:bar", "media:title", "media:description",
              "media:thumbnail", "media:content", "media:credit", "title", "p"]
TREE_ATTRIBUTES = [
    ("xml:base", ["https://b.example/x/", "rel/", ""]), ("type", ["html", "text", "xhtml",
     "TEXT/PLAIN", "image/jpeg"]), ("rel", ["alternate", "enclosure", "self", "ALTERNATE"]),
    ("href", ["/h", "https://e.example/h", ""]), ("url", ["/u.jpg", "https://e.example/u.png"]),
    ("term", ["T", ""]), ("domain", ["D"]), ("isPermaLink", ["true", "false"]),
    ("medium", ["image", "video"]), ("width", ["1", "300"]), ("x:url", ["/xu.jpg"]),
    ("base", ["https://plainbase.example/"]), ("label", ["L"]),
]
TREE_TEXTS = ["plain", " spaced ", "&amp;&lt;b&gt;", "<![CDATA[<i>c</i> & d]]>", "Ã©tÃ©",
              "\u0093q\u0094", "Sat, 25 Apr 2026 12:00:00 GMT", "2026-04-25T12:00:00Z",
              "/rel/path", "https://abs.example/a?b=1&amp;c=2", "a@b.example (Ann)", "",
              "one, two"]


def _tree(rng: random.Random, depth: int) -> str:
    name = rng.choice(TREE_NAMES if depth == 1 else TREE_INNER)
    attrs = "".join(f' {k}="{rng.choice(v)}"'
                    for k, v in rng.sample(TREE_ATTRIBUTES, rng.choice([0, 0, 0, 1, 1, 2])))
    inner = rng.choice(TREE_TEXTS)
    if depth < 4 and rng.random() < 0.3 and name in (
            "author", "dc:creator", "media:group", "media:content", "x:foo", "contributor",
            "content", "summary"):
        inner = "".join(_tree(rng, depth + 1) for _ in range(rng.randint(1, 3)))
    if name == "p":
        return f'<p xmlns="http://www.w3.org/1999/xhtml"{attrs}>{inner}</p>'
    return f"<{name}{attrs}>{inner}</{name}>"


@pytest.mark.parametrize("seed", range(150))
def test_random_trees_read_as_feedparser_reads_them_or_are_declined(seed: int) -> None:
    rng = random.Random(seed)
    kind = ("rss", "atom", "rdf")[seed % 3]
    tag = "entry" if kind == "atom" else "item"
    items = "".join(f"<{tag}>" + "".join(_tree(rng, 1) for _ in range(rng.randint(1, 8)))
                    + f"</{tag}>" for _ in range(rng.randint(1, 3)))
    fast, slow = both({"rss": rss, "atom": atom, "rdf": rdf}[kind](items))
    assert fast is None or fast == slow


def test_join_is_feedparsers_urljoin() -> None:
    """The fast path's shortcut for plain absolute URLs gives what feedparser's join gives."""
    from feedparser.urls import _urljoin

    from digest.ingest.fastentry import join

    rng = random.Random(7)
    chars = [chr(c) for c in range(0x21, 0x7F)] + [" ", "\t", "é"]
    prefixes = ["http://", "https://", "HTTP://", "ftp://", "", "//", "http:///", "tag:"]
    hosts = ["example.org", "Ex.ample.org", "h:8080", "[::1]", "x y", "a.b"]
    for _ in range(20_000):
        base, uri = (rng.choice(prefixes) + rng.choice(hosts)
                     + rng.choice(["", "/"]) + "".join(rng.choice(chars)
                                                       for _ in range(rng.randint(0, 8)))
                     for _ in range(2))
        assert join(base, uri) == _urljoin(base, uri), (base, uri)
