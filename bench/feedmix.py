"""The bench's feeds: a mix of shapes modelled on the real-world corpus (../shared/corpus).

The corpus holds 80 feeds: 41 RSS 2.0 (51%), 22 Atom (28%), 7 RSS 1.0/RDF (9%) and 10 JSON
(13%). Of its 70 XML feeds, 59 (84%) take digest's fast path; 11 (16%) hold something it
leaves to feedparser: an item's <image> with child elements, georss, podlove chapters, svg
inside xhtml, unescaped markup in a description, nested items. The mix keeps those shares,
in units of 40 (for each shape, the corpus feeds it is modelled on):

| shape       | of 40 | like (corpus)                               | read by              |
|-------------|-------|---------------------------------------------|----------------------|
| wordpress   | 5     | techcrunch, londonist, dcrainmaker, npr     | fast path            |
| media       | 3     | bbc-news, bbc-urdu, cowboyprogrammer        | fast path            |
| plain       | 2     | hackernews, tumblr, arcgames                | fast path            |
| nytimes     | 2     | nytimes, guardian-us, japantimes            | fast path            |
| podcast     | 2     | atp, nightvale, theomnishow, giantbomb      | fast path            |
| image       | 1     | livemint                                    | fast path            |
| source      | 1     | washingtonpost                              | fast path            |
| image-url   | 2     | aktuality, medscape                         | feedparser           |
| chapters    | 1     | cre                                         | feedparser           |
| markup      | 1     | guardian-world                              | feedparser           |
| atom        | 6     | daringfireball, qemu, github, kagi, heise   | fast path            |
| atom-xhtml  | 2     | reddit                                      | fast path            |
| youtube     | 1     | youtube-pbsspacetime                        | fast path            |
| atom-svg    | 1     | samruby                                     | feedparser           |
| blogger     | 1     | blogger-googleads                           | feedparser           |
| rdf         | 4     | slashdot, gmane, davidbau, biorxiv          | fast path            |
| json        | 5     | daringfireball, inessential, pixelenvy JSON | digest's jsonfeed    |

RSS 2.0 is 20 of 40 (50%), Atom 11 (28%), RDF 4 (10%), JSON 5 (12%); 6 of the 35 XML
feeds (17%) go through feedparser. rss2email reads the same bytes; its feedparser 6.0 has no
JSON Feed reader, so it finds no items in the JSON feeds (the bench counts only what it can
read).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

_COUNTS = {"wordpress": 5, "media": 3, "plain": 2, "nytimes": 2, "podcast": 2, "image": 1,
           "source": 1, "image-url": 2, "chapters": 1, "markup": 1, "atom": 6, "atom-xhtml": 2,
           "youtube": 1, "atom-svg": 1, "blogger": 1, "rdf": 4, "json": 5}
# Shuffled once (fixed seed), so that every stretch of the run sees the mix.
SHAPES = [s for s, k in _COUNTS.items() for _ in range(k)]
random.Random(2026).shuffle(SHAPES)
CONTENT_TYPES = {"atom": "application/atom+xml", "atom-xhtml": "application/atom+xml",
                 "youtube": "application/atom+xml", "atom-svg": "application/atom+xml",
                 "blogger": "application/atom+xml", "rdf": "application/rdf+xml",
                 "json": "application/feed+json"}
NS = ('xmlns:content="http://purl.org/rss/1.0/modules/content/" '
      'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:media="http://search.yahoo.com/mrss/" '
      'xmlns:atom="http://www.w3.org/2005/Atom" xmlns:slash="http://purl.org/rss/1.0/modules/'
      'slash/" xmlns:wfw="http://wellformedweb.org/CommentAPI/" '
      'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"')
START = datetime(2026, 4, 25, 12, 0, tzinfo=UTC)
_TEXT = ("the committee met on Tuesday and agreed on a plan that critics said does not add up "
         "while the vote was postponed to next week after officials asked for more time to "
         "study the budget and its effect on schools hospitals and roads across the region")
WORDS = _TEXT.split(" ")


def shape_of(n: int) -> str:
    """The shape of feed n (the same for digest and rss2email)."""
    return SHAPES[n % len(SHAPES)]


def content_type(n: int) -> str:
    return CONTENT_TYPES.get(shape_of(n), "application/rss+xml") + "; charset=utf-8"


def feed_body(n: int, items: int) -> bytes:
    """Feed n with `items` items, in its shape."""
    shape = shape_of(n)
    host = f"https://news{n % 50}.example"
    parts = [_ITEM[shape](n, i, host) for i in range(items)]
    return _WRAP[shape](n, host, "".join(parts)).encode()


def _when(n: int, i: int) -> datetime:
    return START - timedelta(minutes=7 * i + n)


def _rfc822(n: int, i: int) -> str:
    return format_datetime(_when(n, i), usegmt=True)


def _iso(n: int, i: int) -> str:
    return _when(n, i).strftime("%Y-%m-%dT%H:%M:%SZ")


def _title(n: int, i: int) -> str:
    return f"Feed {n} story {i}: officials say the plan &amp; the budget hold"


def _paragraphs(n: int, i: int, count: int, close: str = ">") -> str:
    """HTML body text: `count` paragraphs of about 40 words, a link and a picture."""
    out = []
    for p in range(count):
        words = " ".join(WORDS[(p * 7 + i) % 20:] + WORDS[:(p * 7 + i) % 20])
        out.append(f'<p>Story {i} of feed {n}, part {p}: {words}. <a href="/{n}/ctx-{i}-{p}.'
                   f'html?utm_source=rss">More context</a>.</p>')
    out.append(f'<p><img src="https://img.example/{n}/{i}.jpg" width="640" height="360" '
               f'alt="Picture {i}"{close}</p>')
    return "".join(out)


def _summary(n: int, i: int) -> str:
    return f"<p>The committee met on Tuesday and agreed on story {i} of feed {n}.</p>"


def _rss(n: int, host: str, items: str) -> str:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" {NS}><channel>'
            f"<title>Bench feed {n}</title><link>{host}/</link><description>Feed {n}"
            f'</description><atom:link href="{host}/feed/" rel="self" type="application/rss+'
            f'xml"/><language>en-US</language><lastBuildDate>{_rfc822(n, 0)}</lastBuildDate>'
            f"{items}</channel></rss>")


def _wordpress(n: int, i: int, host: str) -> str:
    return (f"<item><title>{_title(n, i)}</title><link>{host}/{n}/story-{i}/?utm_source=rss"
            f"&amp;utm_medium=rss</link><comments>{host}/{n}/story-{i}/#respond</comments>"
            f"<dc:creator><![CDATA[Jane Reporter {i % 7}]]></dc:creator><pubDate>"
            f"{_rfc822(n, i)}</pubDate><category><![CDATA[Politics]]></category><category>"
            f"<![CDATA[Budget]]></category><category><![CDATA[Region {n % 9}]]></category>"
            f'<guid isPermaLink="false">{host}/?p={n * 1000 + i}</guid><description>'
            f"<![CDATA[{_summary(n, i)}]]></description><content:encoded><![CDATA["
            f"{_paragraphs(n, i, 5)}]]></content:encoded><wfw:commentRss>{host}/{n}/story-"
            f"{i}/feed/</wfw:commentRss><slash:comments>{i % 13}</slash:comments>"
            f'<media:content url="https://img.example/{n}/{i}-large.jpg" medium="image" '
            f'width="1200" height="675"/><media:thumbnail url="https://img.example/{n}/{i}-'
            f'thumb.jpg" width="150" height="150"/></item>')


def _media(n: int, i: int, host: str) -> str:
    return (f"<item><title><![CDATA[{_title(n, i)}]]></title><description><![CDATA["
            f"The committee met on Tuesday and agreed on story {i}.]]></description><link>"
            f"{host}/news/{n}-{i}?at_medium=RSS&amp;at_campaign=rss</link><guid "
            f'isPermaLink="false">{host}/news/{n}-{i}#0</guid><pubDate>{_rfc822(n, i)}'
            f'</pubDate><media:thumbnail width="240" height="135" url="https://img.example/'
            f'{n}/{i}.jpg"/></item>')


def _plain(n: int, i: int, host: str) -> str:
    return (f"<item><title>{_title(n, i)}</title><link>{host}/{n}/story-{i}.html?id={i}</link>"
            f'<guid isPermaLink="false">feed-{n}-story-{i}</guid><pubDate>{_rfc822(n, i)}'
            f"</pubDate><category>Politics</category><description>"
            f"&lt;p&gt;The &lt;a href=\"/{n}/context-{i}.html\"&gt;committee&lt;/a&gt; met."
            f"&lt;/p&gt;</description></item>")


def _nytimes(n: int, i: int, host: str) -> str:
    return (f"<item><title>{_title(n, i)}</title><link>{host}/2026/04/25/{n}/story-{i}.html"
            f'</link><guid isPermaLink="true">{host}/2026/04/25/{n}/story-{i}.html</guid>'
            f'<atom:link href="{host}/2026/04/25/{n}/story-{i}.html" rel="standout"/>'
            f"<description>The committee met on Tuesday and agreed on story {i}."
            f"</description><dc:creator>Jane Reporter and Max Writer</dc:creator><pubDate>"
            f'{_rfc822(n, i)}</pubDate><category domain="http://www.nytimes.com/namespaces/'
            f'keywords/des">Politics</category><category domain="http://www.nytimes.com/'
            f'namespaces/keywords/nyt_geo">Region {n % 9}</category><media:content height='
            f'"1800" width="1800" url="https://img.example/{n}/{i}.jpg" medium="image"/>'
            f"<media:credit>Photographer {i % 5}</media:credit><media:description>A picture "
            f"of the committee, story {i}.</media:description></item>")


def _podcast(n: int, i: int, host: str) -> str:
    return (f"<item><title>Episode {i} of show {n}</title><link>{host}/{n}/ep-{i}</link>"
            f'<guid isPermaLink="false">{host}/{n}/ep-{i}</guid><pubDate>{_rfc822(n, i)}'
            f"</pubDate><itunes:author>Pod Host</itunes:author><itunes:duration>01:02:03"
            f"</itunes:duration><itunes:summary>Show notes for episode {i}.</itunes:summary>"
            f"<description><![CDATA[{_summary(n, i)}]]></description><content:encoded>"
            f"<![CDATA[{_paragraphs(n, i, 3)}]]></content:encoded><enclosure url="
            f'"https://cdn.example/{n}/{i}.mp3" length="61234567" type="audio/mpeg"/>'
            f'<itunes:image href="https://img.example/{n}/show.jpg"/></item>')


def _rss1(n: int, host: str, items: str) -> str:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<rdf:RDF xmlns:rdf="http://www.w3.org/'
            f'1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/" {NS}><channel '
            f'rdf:about="{host}/"><title>Bench feed {n}</title><link>{host}/</link>'
            f"<description>Feed {n}</description></channel>{items}</rdf:RDF>")


def _rdf(n: int, i: int, host: str) -> str:
    return (f'<item rdf:about="{host}/story/{n}/{i}"><title>{_title(n, i)}</title><link>'
            f"{host}/story/{n}/{i}?utm_source=rss1.0mainlinkanon</link><description>"
            f"{_summary(n, i).replace('<', '&lt;')}</description><dc:creator>Editor {i % 4}"
            f"</dc:creator><dc:date>{_iso(n, i)}</dc:date><dc:subject>Politics</dc:subject>"
            f"<slash:comments>{i}</slash:comments></item>")


def _atom_feed(n: int, host: str, entries: str) -> str:
    base = f' xml:base="{host}/"' if n % 2 else ""
    return ('<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom"'
            f' xmlns:media="http://search.yahoo.com/mrss/" xmlns:yt="http://www.youtube.com/'
            f'xml/schemas/2015" xmlns:georss="http://www.georss.org/georss"{base}><title>'
            f'Bench feed {n}</title><link rel="alternate" '
            f'type="text/html" href="{host}/"/><link rel="self" href="{host}/feed.atom"/>'
            f"<id>tag:{host[8:]},2026:feed-{n}</id><updated>{_iso(n, 0)}</updated>{entries}"
            "</feed>")


def _atom(n: int, i: int, host: str) -> str:
    return (f'<entry><title type="html">{_title(n, i)}</title><link rel="alternate" type="'
            f'text/html" href="{host}/{n}/{i}/story.html"/><link rel="shorturl" href="'
            f'{host}/s/{i}"/><id>tag:{host[8:]},2026:{n}.{i}</id><published>{_iso(n, i)}'
            f"</published><updated>{_iso(n, i)}</updated><author><name>Jane Reporter</name>"
            f'<uri>{host}/about</uri></author><category term="Politics"/><category '
            f'term="Budget" scheme="{host}/tags"/><summary type="html"><![CDATA['
            f'{_summary(n, i)}]]></summary><content type="html" xml:base="{host}/{n}/{i}/">'
            f"<![CDATA[{_paragraphs(n, i, 5)}]]></content></entry>")


def _atom_xhtml(n: int, i: int, host: str) -> str:
    return (f'<entry><title>Feed {n} story {i}: the plan holds</title><link href="{host}/'
            f'r/{n}/{i}/"/><id>t3_{n}x{i}</id><updated>{_iso(n, i)}</updated><author><name>'
            f'/u/writer{i % 9}</name></author><category term="news" label="r/news"/>'
            f'<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">'
            f"{_paragraphs(n, i, 2, close='/>')}</div></content></entry>")


def _youtube(n: int, i: int, host: str) -> str:
    return (f"<entry><id>yt:video:{n}x{i}</id><yt:videoId>{n}x{i}</yt:videoId><title>Video {i}"
            f' of channel {n}</title><link rel="alternate" href="https://www.youtube.example/'
            f'watch?v={n}x{i}"/><author><name>Channel {n}</name></author><published>'
            f"{_iso(n, i)}</published><updated>{_iso(n, i)}</updated><media:group><media:"
            f"title>Video {i} of channel {n}</media:title><media:content url=\"https://www."
            f'youtube.example/v/{n}x{i}" type="application/x-shockwave-flash" width="640" '
            f'height="390"/><media:thumbnail url="https://i.ytimg.example/vi/{n}x{i}/hq.jpg" '
            f'width="480" height="360"/><media:description>The committee met, video {i}.'
            "</media:description></media:group></entry>")


def _json_feed(n: int, host: str, items: str) -> str:
    return (f'{{"version": "https://jsonfeed.org/version/1.1", "title": "Bench feed {n}", '
            f'"home_page_url": "{host}/", "feed_url": "{host}/feed.json", "items": ['
            f"{items.rstrip(',')}]}}")


def _json(n: int, i: int, host: str) -> str:
    html = _paragraphs(n, i, 3).replace('"', '\\"')
    return (f'{{"id": "{host}/{n}/{i}", "url": "{host}/{n}/{i}.html", "title": "Feed {n} '
            f'story {i}: the plan holds", "content_html": "{html}", "date_published": '
            f'"{_iso(n, i)}", "authors": [{{"name": "Jane Reporter"}}], "tags": ["Politics"]}},')


def _image(n: int, i: int, host: str) -> str:
    return (f"<item><title>{_title(n, i)}</title><link>{host}/news/{n}/{i}.html</link>"
            f"<description>&lt;p&gt;The committee met on story {i}.&lt;/p&gt;</description>"
            f"<pubDate>{_rfc822(n, i)}</pubDate><guid>{host}/news/{n}/{i}.html</guid>"
            f"<author>Desk {i % 3}</author><image>https://img.example/{n}/{i}.jpg</image>"
            f"<thumbnail>https://img.example/{n}/{i}-t.jpg</thumbnail></item>")


def _image_url(n: int, i: int, host: str) -> str:
    return (f"<item><title>{_title(n, i)}</title><link>{host}/clanok/{n}/{i}/</link><image>"
            f"<url>https://img.example/{n}/{i}.jpg?t=x&amp;h=y</url><title>{_title(n, i)}"
            f"</title><link>{host}/clanok/{n}/{i}/</link><width>150</width><height>150"
            f"</height></image><description><![CDATA[<img src=\"https://img.example/{n}/{i}"
            f'.320.jpg" /><br/> The committee met on story {i}.]]></description><pubDate>'
            f"{_rfc822(n, i)}</pubDate></item>")


def _markup(n: int, i: int, host: str) -> str:
    return (f"<item><title>{_title(n, i)}</title><link>{host}/world/{n}/{i}</link>"
            f'<description><p>The committee met on story {i} of feed {n}.</p><p><a href="'
            f'{host}/world/{n}/{i}">Continue reading...</a></p></description><category '
            f'domain="{host}/world">World news</category><pubDate>{_rfc822(n, i)}</pubDate>'
            f"<guid>{host}/world/{n}/{i}</guid></item>")


def _source(n: int, i: int, host: str) -> str:
    return (f"<item><title>{_title(n, i)}</title><link>{host}/wellness/{n}/{i}/</link>"
            f"<description>The committee met on story {i}.</description><pubDate>"
            f'{_rfc822(n, i)}</pubDate><guid isPermaLink="true">{host}/wellness/{n}/{i}/'
            f"</guid><dc:creator>Jane Reporter</dc:creator><category>Wellness</category>"
            f'<source url="{host}/rss">Bench feed {n}</source></item>')


def _chapters(n: int, i: int, host: str) -> str:
    return (f"<item><title>Episode {i} of show {n}</title><link>{host}/{n}/ep-{i}</link>"
            f'<guid isPermaLink="false">{host}/{n}/ep-{i}</guid><pubDate>{_rfc822(n, i)}'
            f"</pubDate><description><![CDATA[{_summary(n, i)}]]></description>"
            f"<content:encoded><![CDATA[{_paragraphs(n, i, 2)}]]></content:encoded>"
            f'<enclosure url="https://cdn.example/{n}/{i}.m4a" length="5" type="audio/mp4"/>'
            f'<psc:chapters version="1.2" xmlns:psc="http://podlove.org/simple-chapters">'
            f'<psc:chapter start="00:00:00.000" title="Intro"/><psc:chapter start="00:05:00'
            f'.000" title="News"/></psc:chapters></item>')


def _atom_svg(n: int, i: int, host: str) -> str:
    return (f'<entry><title>Feed {n} entry {i}</title><link href="{host}/{n}/{i}.html"/>'
            f"<id>{host}/{n}/{i}</id><updated>{_iso(n, i)}</updated><content type=\"xhtml\">"
            f'<div xmlns="http://www.w3.org/1999/xhtml">{_paragraphs(n, i, 2, close="/>")}'
            f'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><circle cx="5" '
            f'cy="5" r="4"/></svg></div></content></entry>')


def _blogger(n: int, i: int, host: str) -> str:
    return (f"<entry><id>tag:blogger.com,1999:blog-{n}.post-{i}</id><published>{_iso(n, i)}"
            f"</published><updated>{_iso(n, i)}</updated><title type=\"text\">Post {i} of blog "
            f'{n}</title><content type="html">{_summary(n, i).replace("<", "&lt;")}</content>'
            f'<link rel="alternate" type="text/html" href="{host}/2026/04/post-{i}.html"/>'
            f"<author><name>Blogger {n}</name></author><georss:featurename>Somewhere"
            f'</georss:featurename><georss:point xmlns:georss="http://www.georss.org/georss">'
            f'47.3 8.5</georss:point><media:thumbnail url="https://img.example/{n}/{i}.jpg" '
            f'height="72" width="72"/></entry>')


_ITEM = {"wordpress": _wordpress, "media": _media, "plain": _plain, "nytimes": _nytimes,
         "podcast": _podcast, "rdf": _rdf, "atom": _atom, "atom-xhtml": _atom_xhtml,
         "youtube": _youtube, "json": _json, "image": _image, "source": _source,
         "chapters": _chapters, "atom-svg": _atom_svg, "blogger": _blogger,
         "image-url": _image_url, "markup": _markup}
_WRAP = {"wordpress": _rss, "media": _rss, "plain": _rss, "nytimes": _rss, "podcast": _rss,
         "rdf": _rss1, "atom": _atom_feed, "atom-xhtml": _atom_feed, "youtube": _atom_feed,
         "json": _json_feed, "image": _rss, "source": _rss, "chapters": _rss,
         "atom-svg": _atom_feed, "blogger": _atom_feed, "image-url": _rss, "markup": _rss}
