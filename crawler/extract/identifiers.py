"""Product identifiers a person reads on the page, and the product id the URL carries.

:func:`identifiers` gives ``(sku, gtin)`` from, in order:

1. labelled values near the main heading: rows of spec tables / definition lists
   (``<tr><th>SKU</th><td>X</td>``) and "Label: value" lines ("SKU: X",
   "<strong>Šifra:</strong> 0638", "Cod produs: DR2401", "〈商品編號：M67296549〉"), with
   labels in many languages; a shop code (SKU, product code, Bestellnummer, Artikul...)
   beats a barcode (EAN/UPC/GTIN) beats a model number;
2. the same shop-code labels farther out in the page's own content (never in site
   chrome or related products): "Article Number: 12185160" under the description,
   "post id: 7235216655" at the foot of a classified ad;
3. the URL's product id -- ``...-1609583.html``, ``/M67296549.htm``, ``p400105394.html``,
   ``?pid=260591`` -- when the page's markup repeats it (image paths, data attributes,
   analytics tags): an id that only the URL has could be anything.

:func:`shown` tells whether a value appears in the page's visible text. The cascade
uses it: a structured-data ``sku`` that the page never shows (an internal id) gives
way to a shop code the page labels and shows, because that is the code a buyer
reads, quotes and searches for.
"""

from __future__ import annotations

import re

import lxml.etree

from . import markup
from .anchor import is_excluded, main_heading
from .page import HIDDEN_TEXT_TAGS, XP_BODY, Page, page_cached, text_of, texts_containing
from .product import normalize_gtin

SPEC_TABLE_LEVELS = 3  # spec tables may sit below the buy box, in the product's article
LABEL_LINE_LEVELS = 2  # "SKU: X" lines sit in the buy box itself
MAX_VALUE_LENGTH = 64

_SKU_LABELS = (
    r"sku|product sku|(?:item|stock|article|art\.|style|part|catalog(?:ue)?) ?(?:no\.?|number|num\.?|#|code)"
    r"|product (?:code|number|no\.?|id)|item code|post id|art(?:ikel)?\.?[ -]?nr\.?|artnr"
    r"|artikelnummer|artikelnr\.?|bestellnummer|bestell-nr\.?|best\.?-nr\.?|artikelcode|productcode"
    r"|référence|réf\.?|referencia|referência|ref\.?|código(?: del producto| de producto| do produto)?"
    r"|codice(?: articolo| prodotto)?|cod(?:ul)? produs|cod(?: articol)?|šifra(?: artikla| proizvoda)?"
    r"|sifra|kod(?: produktu| towaru| produkta| proizvoda)?|numer katalogowy|katalogové číslo"
    r"|katalógové číslo|objednací číslo|cikkszám|termékkód|varenummer|varenr\.?|tuotenumero"
    r"|tuotekoodi|tootekood|preces kods|prekės kodas|kodas|артикул|код(?: товара| продукта)?"
    r"|шифра|商品編號|商品编号|商品番号|品番|货号|貨號|商品代碼|商品代码|상품번호|품번"
)
_ID_LABELS = (
    rf"(?:(?P<sku>{_SKU_LABELS})|(?P<code>upc|ean(?:-?13|-?8)?|gtin(?:-?1[234]|-?8)?|isbn(?:-?1[03])?"
    r"|barcode|jan(?:コード)?)|(?P<model>mpn|model(?: number| no\.?)?|modell(?:nummer)?|modèle|型番))"
)
_SEP = r"\s*[:#：]?\s*"
_ID_LABEL_RE = re.compile(rf"(?i)\s*[〈(\[【]?\s*{_ID_LABELS}{_SEP}")
_LABELLED_ID_RE = re.compile(
    rf"(?i)\s*[〈(\[【]?\s*{_ID_LABELS}(?:\s*[:#：]\s*|\s+)(?P<value>[^\s:：].{{0,{MAX_VALUE_LENGTH - 1}}})"
)
# a cheap filter before the label regex: a separator or a label-ish word
_ID_HINT_RE = re.compile(
    r"(?i)[:#：]|\b(?:sku|no|nr|num|number|nummer|code|cod|réf|ref|id|ean|gtin|upc|isbn|mpn|model)\b"
    r"|bestellnummer|artikel|šifra|артикул|код|編號|编号|番号|品番|货号|貨號"
)
_VALUE_END_RE = re.compile(r"[〉)\]】）]+$")
_XP_LABEL_ROWS = lxml.etree.XPath("descendant::tr[count(th|td) >= 2] | descendant::dt")

# the URL's product id: "-1609583.html", "_12185160.html", "/M67296549.htm", "/p400105394.html"
_URL_ID_RES = (
    re.compile(r"[-_](?P<id>\d{5,})(?:\.html?|\.php|\.aspx?)?/?$"),
    # a lower-case letter before the digits marks them ("p400105394"); capitals belong to the id
    re.compile(r"(?:^|[-_/])(?:[a-z]{1,2}(?=\d))?(?P<id>[A-Z]{0,3}\d{5,})(?:\.html?|\.php|\.aspx?)/?$"),
)
_URL_ID_PARAMS = ("pid", "product_id", "productid", "products_id", "item_id", "itemid", "goods_id", "sku")
_MIN_REPEATS = 2  # the id appears in the markup at least this often besides the URL itself


def _heading_ancestor(page: Page, levels: int):
    """The heading's ancestor ``levels`` up, staying below <body>."""
    node = main_heading(page)
    if node is None:
        return None
    for _ in range(levels):
        parent = node.getparent()
        if parent is None or parent.tag in ("body", "html"):
            break
        node = parent
    return node


def _id_candidates(region):
    """Elements that may hold "Label: value". A Python walk: libxml2 is ~5x slower here."""
    for element in region.iter():
        tag = element.tag
        if not isinstance(tag, str) or tag in HIDDEN_TEXT_TAGS:
            continue
        text = element.text
        if (text and _ID_HINT_RE.search(text)) or tag == "label":
            yield element


def _id_kind(match: re.Match) -> str:
    return next(kind for kind in ("sku", "code", "model") if match.group(kind))


def _clean_value(value: str) -> str | None:
    value = _VALUE_END_RE.sub("", value.strip()).strip(" ,;.")
    if not value or len(value) > MAX_VALUE_LENGTH or len(value.split()) > 3 or ":" in value:
        return None
    if not any(ch.isdigit() for ch in value) and not (value.isupper() and len(value) >= 4):
        return None  # "Black", "n/a", "Ver detalles": not a code
    return value


def _table_ids(page: Page, region):
    for row in _XP_LABEL_ROWS(region):
        if row.tag == "dt":
            value = row.getnext()
            if value is None or value.tag != "dd":
                continue
            label = row
        else:
            label, value = [cell for cell in row if cell.tag in ("th", "td")][:2]
        match = _ID_LABEL_RE.fullmatch(text_of(label))
        if match and not is_excluded(page, row):
            yield match.lastgroup, text_of(value)


def _line_ids(page: Page, region):
    for element in _id_candidates(region):
        text = text_of(element)
        if len(text) > 80:
            continue
        if _ID_LABEL_RE.fullmatch(text) and element.getparent() is not None:
            text = text_of(element.getparent())  # "<strong>SKU:</strong> <span>X</span>"
        match = _LABELLED_ID_RE.fullmatch(text) if len(text) <= 80 else None
        if match and not is_excluded(page, element):
            yield _id_kind(match), match.group("value")


def strip_id_label(text: str) -> str:
    """ "Art.-Nr.: RW-1" -> "RW-1"; text without an identifier label is kept."""
    match = _LABELLED_ID_RE.fullmatch(text)
    return _VALUE_END_RE.sub("", match.group("value")).strip() if match else text


def _rank(pairs) -> tuple[str | None, str | None]:
    ranked: dict[str, str] = {}
    gtin = None
    for kind, raw in pairs:
        value = _clean_value(raw or "")
        if value is None:
            continue
        ranked.setdefault(kind, value)
        if kind == "code":
            gtin = gtin or normalize_gtin(value)
    return ranked.get("sku") or ranked.get("code") or ranked.get("model"), gtin


@page_cached
def labelled(page: Page) -> tuple[str | None, str | None]:
    """(sku, gtin) from labelled values near the heading, else shop codes in the content."""
    if main_heading(page) is None:
        return None, None
    near = list(_table_ids(page, _heading_ancestor(page, SPEC_TABLE_LEVELS)))
    near += _line_ids(page, _heading_ancestor(page, LABEL_LINE_LEVELS))
    sku, gtin = _rank(near)
    if sku is None:
        body = XP_BODY(page.root)
        if body:
            far = [pair for pair in _line_ids(page, body[0]) if pair[0] == "sku"]
            sku = _rank(far)[0]
    return sku, gtin


@page_cached
def url_id(page: Page) -> str | None:
    """The product id in the URL, when the page's markup repeats it."""
    parts = page.url_parts
    last = parts.path.rstrip("/").rsplit("/", 1)[-1]
    # (candidate, how the URL writes it): copies of the URL itself (canonical, og:url) do not count
    candidates = [(page.query[name], f"{name}={page.query[name]}") for name in _URL_ID_PARAMS if page.query.get(name)]
    for pattern in _URL_ID_RES:
        match = pattern.search(last)
        if match:
            candidates.append((match.group("id"), last))
    source = page.source if candidates else ""
    for candidate, in_url in candidates:
        if len(candidate) >= 5 and source.count(candidate) - source.count(in_url) >= _MIN_REPEATS:
            return candidate
    return None


@page_cached
def identifiers(page: Page) -> tuple[str | None, str | None]:
    """(sku, gtin): labelled values first, then the URL's product id (see the module doc)."""
    sku, gtin = labelled(page)
    return sku or url_id(page), gtin


def shown(page: Page, value: str | None) -> bool:
    """Whether ``value`` appears in the page's visible text (within one text node)."""
    if not value or (page.has_source and str(value) not in page.source):
        return False  # not even in the markup (cheap)
    return markup.shows(page, str(value)) or bool(texts_containing(page, str(value)))
