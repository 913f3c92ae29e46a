"""One parsed page, shared by every stage of the cascade and by the classifier.

The HTML is parsed exactly once (lxml). Pages that carry RDFa markers are parsed with
extruct's DOM-flavoured lxml parser instead, because pyRdfa walks the tree through the
xml.dom API; that parser makes element access ~3x slower, so it is used only there.
Anything derived from the page that more than one stage needs is computed lazily and
memoized on the page (:func:`page_cached`).
"""

from __future__ import annotations

import functools
import json
import re
import threading
from collections.abc import Callable
from functools import cached_property
from typing import Any, TypeVar
from urllib.parse import SplitResult, parse_qsl, urljoin, urlsplit

import lxml.etree
import lxml.html
from extruct.xmldom import XmlDomHTMLParser
from w3lib.encoding import html_to_unicode
from w3lib.url import safe_url_string

from .currencies import CurrencyContext, normalize_currency

T = TypeVar("T")

_local = threading.local()  # lxml parsers must not be shared between threads

# Query parameters by which shop URLs select one variant of a product.
_VARIANT_PARAMS = ("variant", "variant_id", "sku", "pid")
_VARIANT_PREFIXES = ("attribute_",)  # WooCommerce: ?attribute_pa_size=large

_XP_HEAD_META = lxml.etree.XPath("/html/head/meta | /html/meta")
#: characters after which urljoin does more than put a path after the origin
_URL_ODD = frozenset("?#\\;%\t\n\r")
_XP_CANONICAL = lxml.etree.XPath(
    "//link[contains(concat(' ', normalize-space(translate(@rel, 'CANONICAL', 'canonical')), ' '),"
    " ' canonical ')]/@href"
)
_XP_BASE = lxml.etree.XPath("/html/head/base/@href")
_XP_TITLE = lxml.etree.XPath("string((/html/head/title | //title)[1])")
_XP_RDFA = lxml.etree.XPath("//*[@typeof or @vocab][1]")
# The variant a cart form pre-selects (Shopify themes render the selected-or-first-available one).
_XP_CART_VARIANT = lxml.etree.XPath(
    "//form[contains(@action, '/cart/add')]//select[@name='id']/option[@selected]/@value"
    " | //form[contains(@action, '/cart/add')]//input[@name='id']/@value"
)
_JSON_START_RE = re.compile(r"\s*[\[{]")
# country-code TLDs that are not the ISO 3166 code of their country
_TLD_COUNTRY = {"uk": "gb", "su": "ru"}


# lxml.html's default class lookup calls back into Python for every element proxy (to
# pick FormElement, InputElement, ...); nothing here needs those, and a C-level default
# lookup to HtmlElement makes walking the tree about 1.6x faster.
_FAST_LOOKUP = lxml.etree.ElementDefaultClassLookup(
    element=lxml.html.HtmlElement,
    comment=lxml.html.HtmlComment,
    pi=lxml.html.HtmlProcessingInstruction,
    entity=lxml.html.HtmlEntity,
)


def _parser(dom: bool) -> lxml.html.HTMLParser:
    name = "dom" if dom else "html"
    parser = getattr(_local, name, None)
    if parser is None:
        if dom:
            parser = XmlDomHTMLParser(encoding="utf-8")
        else:
            parser = lxml.html.HTMLParser(encoding="utf-8")
            parser.set_element_class_lookup(_FAST_LOOKUP)
        setattr(_local, name, parser)
    return parser


def _header(headers: dict | None, name: str) -> str | None:
    """Case-insensitive header lookup tolerating Scrapy's bytes/list values."""
    if not headers:
        return None
    for key, value in headers.items():
        key = key.decode("latin-1") if isinstance(key, bytes) else str(key)
        if key.lower() == name:
            if isinstance(value, (list, tuple)):
                value = value[0] if value else None
            if isinstance(value, bytes):
                value = value.decode("latin-1")
            return value
    return None


def _decoded(html: str | bytes, headers: dict | None) -> tuple[str, bytes | None]:
    """The text, and the UTF-8 bytes of it when ``html`` already is them (so the parser need not have
    the text encoded again): bytes that decoded as UTF-8 without a replacement character."""
    if isinstance(html, str):
        return html, None
    encoding, text = html_to_unicode(_header(headers, "content-type"), html)
    utf8 = encoding in ("utf-8", "utf8") and "\ufffd" not in text
    return text, html if utf8 else None


def needs_dom_parser(text: str) -> bool:
    """RDFa in the body (``typeof``/``vocab`` attributes), not just OG ``property`` metas."""
    return "typeof=" in text or "vocab=" in text


def parse_tree(text: str, *, dom: bool = False, utf8: bytes | None = None) -> lxml.html.HtmlElement:
    """Parse HTML text once (from ``utf8``, its UTF-8 bytes, when given); never raises (empty or odd
    input gives an empty document)."""
    if not text or text.isspace():
        data = b"<html></html>"
    else:
        data = utf8 if utf8 is not None else text.encode("utf-8", "replace")
    try:
        return lxml.html.document_fromstring(data, parser=_parser(dom))
    except (lxml.etree.ParserError, ValueError):
        return lxml.html.document_fromstring(b"<html></html>", parser=_parser(dom))


def page_cached(fn: Callable[[Page], T]) -> Callable[[Page], T]:
    """Memoize a function of a page on that page (so stages and classifier share it)."""
    key = f"{fn.__module__}.{fn.__qualname__}"

    @functools.wraps(fn)
    def wrapper(page: Page) -> T:
        try:
            return page.cache[key]
        except KeyError:
            value = page.cache[key] = fn(page)
            return value

    return wrapper


XP_BODY = lxml.etree.XPath("/html/body")
#: elements whose text a person does not see as the page's
HIDDEN_TEXT_TAGS = frozenset({"script", "style", "noscript", "template", "head", "title", "option"})


_XP_TEXTS_CONTAINING = lxml.etree.XPath(
    "/html/body//text()[contains(., $needle)]"
    "[not(parent::script or parent::style or parent::noscript or parent::template or parent::option)]"
)


def texts_containing(page: Page, needle: str) -> list:
    """The body's visible text nodes that contain ``needle`` (lxml smart strings: ``.getparent()``,
    ``.is_tail``); libxml2 does the search, so pages where few nodes match cost next to nothing."""
    return _XP_TEXTS_CONTAINING(page.root, needle=needle)


def clean_text(value: str | None) -> str:
    return " ".join(value.split()) if value else ""


def text_of(element) -> str:
    return clean_text(element.text_content())


def class_and_id(element) -> str:
    """Lower-cased ``class`` and ``id`` of an element, for token tests."""
    get = element.get
    value = get("class")
    ident = get("id")
    if ident:
        value = f"{value} {ident}" if value else ident
    return value.lower() if value else ""


class Page:
    """A parsed page plus lazily computed facts about it."""

    def __init__(
        self,
        root,
        url: str,
        *,
        source: str | None = None,
        status: int = 200,
        headers: dict | None = None,
    ) -> None:
        self.root = root
        self.url = url or ""
        self._source = source
        self.status = status
        self.headers = headers or {}
        self.cache: dict[str, Any] = {}

    @classmethod
    def from_html(cls, html: str | bytes, url: str, *, status: int = 200, headers: dict | None = None) -> Page:
        text, utf8 = _decoded(html, headers)
        root = parse_tree(text, dom=needs_dom_parser(text), utf8=utf8)
        return cls(root, url, source=text, status=status, headers=headers)

    @classmethod
    def from_any(cls, html_or_tree, url: str, **kwargs) -> Page:
        if isinstance(html_or_tree, Page):
            return html_or_tree
        if isinstance(html_or_tree, (str, bytes)):
            return cls.from_html(html_or_tree, url, **kwargs)
        root = getattr(html_or_tree, "root", html_or_tree)  # parsel Selector or lxml tree
        if hasattr(root, "getroot"):
            root = root.getroot()
        return cls(root, url, **kwargs)

    # --- raw source -------------------------------------------------------------
    @property
    def has_source(self) -> bool:
        """Whether the raw HTML is at hand (not just a tree handed in)."""
        return self._source is not None

    @property
    def source(self) -> str:
        if self._source is None:
            self._source = lxml.html.tostring(self.root, encoding="unicode")
        return self._source

    def contains(self, *needles: str) -> bool:
        """Cheap substring gate on the raw source ("maybe" when only a tree was given)."""
        if not self.has_source:
            return True
        source = self._source
        return any(needle in source for needle in needles)

    @cached_property
    def head_source(self) -> str:
        """The raw source up to the opening ``<body>`` tag (metas, head scripts, body class)."""
        source = self.source
        end = source.find("</head>")
        if end < 0:
            return source[:20000]
        body = source.find(">", source.find("<body", end))
        return source[: max(body, end) + 1]

    def head_contains(self, *needles: str) -> bool:
        """:meth:`contains`, limited to :attr:`head_source`."""
        if not self.has_source:
            return True
        head = self.head_source
        return any(needle in head for needle in needles)

    @cached_property
    def json_body(self) -> Any:
        """The body parsed as JSON when the response is JSON (e.g. Shopify ``.js``)."""
        if not _JSON_START_RE.match(self.source):
            return None
        try:
            return json.loads(self.source)
        except ValueError:
            return None

    @property
    def dom_ready(self) -> bool:
        """Whether the tree supports the xml.dom API pyRdfa needs."""
        return hasattr(self.root, "childNodes")

    def has_rdfa(self) -> bool:
        if self.has_source and not needs_dom_parser(self._source):
            return False
        return bool(_XP_RDFA(self.root))

    # --- head facts -------------------------------------------------------------
    @cached_property
    def metas(self) -> dict[str, str]:
        """First non-empty ``content`` of each head meta, keyed by property/name/itemprop."""
        found: dict[str, str] = {}
        for meta in _XP_HEAD_META(self.root):
            content = meta.get("content")
            if not content or not content.strip():
                continue
            for attr in ("property", "name", "itemprop"):
                key = meta.get(attr)
                if key:
                    found.setdefault(key.strip().lower(), content.strip())
        return found

    @cached_property
    def title(self) -> str:
        return clean_text(_XP_TITLE(self.root))

    @cached_property
    def base_url(self) -> str:
        base = _XP_BASE(self.root)
        try:
            return urljoin(self.url, base[0].strip()) if base else self.url
        except ValueError:
            return self.url

    def absolute(self, href) -> str | None:
        if isinstance(href, list):
            href = href[0] if href else None
        if not isinstance(href, str) or not href.strip() or href.strip().startswith("data:"):
            return None
        memo = self.cache.setdefault("page.absolute", {})  # the same href comes from several stages
        try:
            return memo[href]
        except KeyError:
            pass
        try:
            url = self._joined(href.strip())
            url = url if url.isascii() and " " not in url else safe_url_string(url)
        except ValueError:  # "http://[broken", a non-numeric port, ...
            url = None
        memo[href] = url
        return url

    def _joined(self, href: str) -> str:
        """``urljoin(base_url, href)``; a path from the root with no dot segment, query or fragment (an
        offer's ``/p/lamp.html``) is put after the base's origin without parsing both again."""
        if href.startswith("/") and not href.startswith("//") and "/." not in href and not _URL_ODD.intersection(href):
            origin = self._origin
            if origin:
                return origin + href
        return urljoin(self.base_url, href)

    @cached_property
    def _origin(self) -> str | None:
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else None

    @cached_property
    def canonical_url(self) -> str | None:
        hrefs = _XP_CANONICAL(self.root)
        return self.absolute(hrefs[0] if hrefs else self.metas.get("og:url"))

    # --- language, region, money ------------------------------------------------
    @cached_property
    def locale(self) -> tuple[str | None, str | None]:
        """(language, country) of the page, lower case: ``("de", "at")``.

        The language is the first of ``<html lang>``, Content-Language and og:locale that
        has one; the country is the first region any of them names (``<html lang="en">``
        with og:locale ``en_CA`` is Canadian), else the URL's country-code TLD (``.co.uk``
        -> ``gb``).
        """
        lang = region = None
        for raw in (
            self.root.get("lang"),
            self.root.get("xml:lang"),
            _header(self.headers, "content-language"),
            self.metas.get("og:locale"),
        ):
            if not raw:
                continue
            parts = raw.replace("_", "-").lower().split(",")[0].strip().split("-")
            if lang is None and parts[0].isalpha() and 2 <= len(parts[0]) <= 3:
                lang = parts[0]
            if region is None:
                region = next((p for p in parts[1:] if len(p) == 2 and p.isalpha()), None)
            if lang and region:
                break
        if region is None:
            host = self.url_parts.hostname or ""
            tld = host.rsplit(".", 1)[-1]
            if len(tld) == 2 and tld.isalpha():
                region = _TLD_COUNTRY.get(tld, tld)
        return lang, region

    @cached_property
    def currency_context(self) -> CurrencyContext:
        lang, region = self.locale
        metas = self.metas
        declared = normalize_currency(
            metas.get("product:price:currency") or metas.get("og:price:currency") or metas.get("pricecurrency"),
            CurrencyContext(lang=lang, region=region),
        )
        return CurrencyContext(lang=lang, region=region, currency=declared)

    def money_context(self, currency: str | None) -> CurrencyContext:
        """The page context with an explicitly known currency (e.g. an offer's)."""
        context = self.currency_context
        if currency and currency != context.currency:
            return CurrencyContext(lang=context.lang, region=context.region, currency=currency)
        return context

    # --- URL facts --------------------------------------------------------------
    @cached_property
    def url_parts(self) -> SplitResult:
        try:
            return urlsplit(self.url)
        except ValueError:  # "http://[::1" and friends
            return urlsplit("")

    @cached_property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(self.url_parts.query))

    @cached_property
    def variant_params(self) -> dict[str, str]:
        """Query parameters by which the URL selects a variant (empty when none)."""
        return {
            key: value
            for key, value in self.query.items()
            if key in _VARIANT_PARAMS or key.startswith(_VARIANT_PREFIXES)
        }

    @cached_property
    def preselected_variant_ids(self) -> tuple[str, ...]:
        """Variant ids the page's cart form pre-selects (its ``id`` field), in document order."""
        if not self.contains("/cart/add"):
            return ()
        return tuple(dict.fromkeys(str(value).strip() for value in _XP_CART_VARIANT(self.root) if str(value).strip()))
