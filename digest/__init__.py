"""digest: a newsletter of the day's featured stories, from feeds to every subscriber's inbox."""

__version__ = "0.1.0"
HOME_PAGE = "https://github.com/digest-newsletter/digest"
