"""Block, captcha and access-denied pages.

A blocked page is a failed observation, never "out of stock": the cascade returns an
empty product with ``blocked`` set to the reason.

* Strong markers block regardless of the rest of the page: the title of a vendor's
  challenge/denial page (Cloudflare "Just a moment..." / "Attention Required!",
  "Access denied", "Pardon Our Interruption", PerimeterX "Access to this page has
  been denied", "Robot Check", ...) -- the first ``<h1>`` is held to the same rules
  ("Are you a robot?") -- checked before extraction; or markup only such pages carry
  (Cloudflare's ``cf_chl_opt``, DataDome's ``captcha-delivery.com``, PerimeterX's
  ``px-captcha``, Imperva's incident id, Akamai's reference page), checked when the
  extraction found no price (a page with a price is a product page, and skipping the
  scan keeps product pages cheap).
* Weak markers block only when no price was extracted and the page is small (or its
  HTTP status is 401/403/429/503): "are you a robot" / "unusual traffic" wording; a
  reCAPTCHA/hCaptcha/Turnstile widget, but only if no product was recognised either
  (a price-on-request product page may well carry one in its enquiry form); and
  the blocking HTTP status itself.
"""

from __future__ import annotations

import re

import lxml.etree

from .page import Page

#: Refusals: with no product on the page, these statuses alone mean we were blocked.
BLOCKING_STATUSES = frozenset({401, 403, 429})
#: Statuses whose (small) pages are searched for block markers; a bare 503 is an outage, not a block.
SUSPECT_STATUSES = BLOCKING_STATUSES | {503}

_TITLE_RULES = (
    (r"attention required!? \| cloudflare", "cloudflare: attention required"),
    (r"just a moment\.*", "cloudflare: challenge (just a moment)"),
    (r"(?:please wait|checking your browser).{0,40}", "browser check challenge"),
    (r"access denied.{0,40}", "access denied"),
    (r"access to this page has been denied\.?", "perimeterx: access denied"),
    (r"(?:403 )?forbidden|error 403.{0,30}|403 - forbidden.{0,30}", "access denied: 403 forbidden"),
    (r"pardon our interruption\.*", "imperva: pardon our interruption"),
    (r"request unsuccessful\..{0,60}", "imperva: request unsuccessful"),
    (
        r"(?:are you a robot|are you human|robot check|bot check|security check|human verification"
        r"|verify you are (?:a )?human|captcha|hcaptcha|recaptcha)\??.{0,40}",
        "captcha",
    ),
    (r"you have been blocked.{0,40}|blocked", "blocked"),
    (r"ddos-guard|ddos protection.{0,40}", "ddos-guard challenge"),
    (r"too many requests", "rate limited: too many requests"),
)
# one alternation, one fullmatch per title: group "r<i>" is rule i
_TITLE_RE = re.compile(
    "|".join(f"(?P<r{i}>{pattern})" for i, (pattern, _reason) in enumerate(_TITLE_RULES)),
    re.IGNORECASE,
)

_STRONG_MARKERS = (
    ("cf_chl_opt", "cloudflare challenge"),
    ("cf-browser-verification", "cloudflare challenge"),
    ("cf-error-details", "cloudflare: access denied"),
    ("captcha-delivery.com", "datadome captcha"),
    ('id="px-captcha"', "perimeterx captcha"),
    ("Incapsula incident ID", "imperva incapsula"),
    ("errors.edgesuite.net", "akamai: access denied"),
    ("/_sec/cp_challenge/", "akamai challenge"),
    ("distil_r_captcha", "distil captcha"),
)
_WEAK_MARKERS = (
    ("g-recaptcha", "captcha (recaptcha)"),
    ("www.google.com/recaptcha/", "captcha (recaptcha)"),
    ("h-captcha", "captcha (hcaptcha)"),
    ("hcaptcha.com", "captcha (hcaptcha)"),
    ("cf-turnstile", "captcha (cloudflare turnstile)"),
    ("challenges.cloudflare.com", "captcha (cloudflare turnstile)"),
)
_WEAK_TEXT_RE = re.compile(
    r"(?i)are you a robot|not a robot|unusual traffic|verify (?:that )?you are (?:a )?human"
    r"|automated (?:access|requests|queries)|access (?:is )?denied|you don't have permission to access"
    r"|enable javascript and cookies to continue|sicherheitsüberprüfung|vérification de sécurité"
)
_XP_BODY_TEXT = lxml.etree.XPath("descendant::text()[normalize-space()]")
_XP_FIRST_H1 = lxml.etree.XPath("normalize-space((//h1)[1])")
SMALL_PAGE_TEXT = 3000  # characters of visible text
MAX_BLOCK_PAGE_SOURCE = 60000  # characters of source: challenge/denial pages are far smaller


def _title_reason(title: str) -> str | None:
    match = _TITLE_RE.fullmatch(title) if title and len(title) < 100 else None
    return _TITLE_RULES[int(match.lastgroup[1:])][1] if match else None


def title_reason(page: Page) -> str | None:
    """Reason when the title or first h1 is a block page's (checked before extraction)."""
    return _title_reason(page.title) or _title_reason(_XP_FIRST_H1(page.root))


def markup_reason(page: Page) -> str | None:
    """Reason when the markup carries a challenge vendor's block page markers."""
    source = page.source
    if len(source) > MAX_BLOCK_PAGE_SOURCE:
        source = page.head_source  # challenge pages are small; big pages: head only
    for marker, reason in _STRONG_MARKERS:
        if marker in source:
            return reason
    return None


def _visible_text(page: Page) -> str:
    body = page.root.find("body")
    if body is None:
        return ""
    return " ".join(text for text in _XP_BODY_TEXT(body) if text.getparent().tag not in ("script", "style"))


def weak_reason(page: Page, status: int, is_product: bool) -> str | None:
    """Reason when a small page without a price looks like a block page."""
    text = _visible_text(page)
    if len(text) > SMALL_PAGE_TEXT and status not in SUSPECT_STATUSES:
        return None
    if not is_product:
        source = page.source
        for marker, reason in _WEAK_MARKERS:
            if marker in source:
                return reason
    match = _WEAK_TEXT_RE.search(text)
    if match:
        return f"block page: {match.group(0).lower()}"
    if status in BLOCKING_STATUSES:
        return f"http {status}"
    return None
