"""The cascade's accumulator: fields from the stages in priority order, with provenance.

:class:`_Merge` takes each stage's :class:`~.product.Found` in the cascade's order
(:mod:`.cascade`): the first source to give a field wins, a companion field
(``stock_quantity``, ``list_price``) comes only from the source that gave its
companion, a source blind to the URL's variant is deferred, and known absences count.
At the end it resolves the offers: which source's offers are the product's, their
missing names and list prices from another source's, amounts normalized and exactly
one selected.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from .page import Page
from .prices import normalize_amount
from .product import REQUIRED_FIELDS, VARIANT_FIELDS, Found, Offer

#: a field taken only from the source that gave its companion
_COMPANIONS = {"stock_quantity": "availability", "list_price": "price"}
#: platforms whose adapter reads variants and sale prices (run for them even after an early stop)
VARIANT_PLATFORMS = frozenset({"shopify", "woocommerce"})
#: sources that describe the page as a whole, never one variant of it
SUMMARY_SOURCES = frozenset({"opengraph", "meta"})


@dataclasses.dataclass
class _Reported:
    """What one source reported: its fields (those of the offer it chose), its offers and list price."""

    fields: dict
    offers: list[Offer]
    list_price: Decimal | None


class _Merge:
    """Accumulates fields from stages in priority order, with provenance."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.values: dict = {}
        self.sources: dict[str, str] = {}
        self.deferred: list[tuple[str, str, object]] = []
        self.absent: set[str] = set()  # fields a source vouched the page does not have
        self.reported: dict[str, _Reported] = {}

    def complete(self) -> bool:
        return all(field in self.values or field in self.absent for field in REQUIRED_FIELDS)

    def _set(self, source: str, field: str, value: object) -> None:
        if field in self.values or field in self.absent:
            return
        companion = _COMPANIONS.get(field)
        if companion and self.sources.get(companion) != source:
            return
        self.values[field] = value
        self.sources[field] = source

    def note(self, source: str, found: Found | None) -> dict:
        """Keep what a source reported (its offers aside); returns its other fields."""
        if found is None:
            return {}
        fields = dict(found.fields)
        offers = fields.pop("offers", None) or []
        earlier = self.reported.get(source)  # a source heard twice (the identifier pass): keep both
        if earlier is not None and not offers:
            earlier.fields.update(fields)
            earlier.list_price = earlier.fields.get("list_price")
        else:
            self.reported[source] = _Reported(dict(fields), list(offers), fields.get("list_price"))
        return fields

    def add(self, source: str, found: Found | None) -> None:
        if found is None:
            return
        fields = self.note(source, found)
        blind = found.variant_blind and bool(self.page.variant_params)
        # companions after the field they follow, whatever order the stage gave them in
        for field, value in sorted(fields.items(), key=lambda item: item[0] in _COMPANIONS):
            if blind and field in VARIANT_FIELDS:
                self.deferred.append((source, field, value))
            else:
                self._set(source, field, value)
        self.absent.update(field for field in found.absent if field not in self.values)

    def finish(self) -> None:
        for source, field, value in self.deferred:
            self._set(source, field, value)

    # --- offers and list price ------------------------------------------------------------------

    def resolve_offers(self) -> None:
        """Set ``offers`` and ``list_price`` (with their sources) and align the product on its offer."""
        primary_source = self.sources.get("price") or self.sources.get("availability")
        primary = self.reported.get(primary_source) if primary_source else None
        offers, offers_source = (primary.offers, primary_source) if primary else ([], None)
        if primary is not None and (len(offers) == 1 or primary_source in SUMMARY_SOURCES):
            # an AggregateOffer or the price metas summarize the variants (a "from" price): the platform's
            # variant data knows the page's default variant
            for source in self.reported:
                variants = self.reported[source]
                chosen = next((o for o in variants.offers if o.selected and o.price is not None), None)
                if source in VARIANT_PLATFORMS and len(variants.offers) >= 2 and chosen is not None:
                    if self._report(source, variants.fields):
                        offers, offers_source, primary_source = variants.offers, source, source
                    break
        price, currency = self.values.get("price"), self.values.get("currency")
        sku, availability = _str(self.values.get("sku")), self.values.get("availability")
        if len(offers) < 2 and price is not None:
            for source, reported in self.reported.items():
                if source == primary_source or len(reported.offers) < 2:
                    continue
                match = _matching_offer(reported.offers, price, currency, sku, availability)
                if match is not None:
                    offers = [dataclasses.replace(o, selected=o is match) for o in reported.offers]
                    offers_source = source
                    break
        offers = _finished_offers(offers, currency)
        if offers:
            self.values["offers"], self.sources["offers"] = offers, offers_source
        self._list_price(price, currency, sku, primary_source, offers, offers_source)
        _complete(offers, [r.offers for source, r in self.reported.items() if source != offers_source])
        self._align_on(offers, offers_source)

    def _report(self, source: str, fields: dict) -> bool:
        """The product reports what ``source`` reports for its variant-dependent fields (if it has a price)."""
        currency = fields.get("currency") or self.values.get("currency")
        price = normalize_amount(fields.get("price"), currency)
        if price is None:
            return False
        self.values["price"], self.sources["price"] = price, source
        if fields.get("currency"):
            self.values["currency"], self.sources["currency"] = fields["currency"], source
        for field in ("availability", "sku"):
            if fields.get(field) is not None:
                self.values[field], self.sources[field] = fields[field], source
        self.values.pop("list_price", None)  # the summary's list price is not this variant's
        self.sources.pop("list_price", None)
        if fields.get("list_price") is not None:
            self.values["list_price"], self.sources["list_price"] = fields["list_price"], source
        if self.sources.get("stock_quantity") != self.sources.get("availability"):
            self.values.pop("stock_quantity", None)
            self.sources.pop("stock_quantity", None)
        if fields.get("stock_quantity") is not None and self.sources.get("availability") == source:
            self.values["stock_quantity"], self.sources["stock_quantity"] = fields["stock_quantity"], source
        return True

    def _list_price(self, price, currency, sku, primary_source, offers, offers_source) -> None:
        if price is None:
            return
        known = normalize_amount(self.values.get("list_price"), currency)
        if known is not None and known > price:  # the price's own source gave it (or the price check did)
            return
        self.values.pop("list_price", None)
        self.sources.pop("list_price", None)
        candidates: list[tuple[str | None, Decimal | None]] = []
        primary = self.reported.get(primary_source) if primary_source else None
        if primary is not None:
            candidates.append((primary_source, primary.list_price))
        selected = next((o for o in offers if o.selected), None)
        if selected is not None and selected.price == price:
            candidates.append((offers_source, selected.list_price))
        for source, reported in self.reported.items():
            if source == primary_source:
                continue
            theirs = reported.fields
            agrees = normalize_amount(theirs.get("price"), currency) == price and (
                not theirs.get("currency") or not currency or theirs.get("currency") == currency
            )
            if agrees:
                candidates.append((source, reported.list_price))
            match = _matching_offer(reported.offers, price, currency, sku, self.values.get("availability"))
            if match is not None:
                candidates.append((source, match.list_price))
        for source, value in candidates:
            value = normalize_amount(value, currency)
            if value is not None and value > price:
                self.values["list_price"], self.sources["list_price"] = value, source
                return

    def _align_on(self, offers: list[Offer], offers_source: str | None) -> None:
        """The product is InStock when the offer it reports is: take that offer's availability."""
        selected = next((o for o in offers if o.selected), None)
        if selected is None:
            return
        if selected.list_price is None and selected.price == self.values.get("price"):
            selected.list_price = self.values.get("list_price")
        if selected.availability is None:
            selected.availability = self.values.get("availability")
            return
        if self.sources.get("availability") in ("selectors", offers_source):
            return
        if self.values.get("availability") != selected.availability:
            self.values["availability"], self.sources["availability"] = selected.availability, offers_source
            if self.sources.get("stock_quantity") != offers_source:
                self.values.pop("stock_quantity", None)
                self.sources.pop("stock_quantity", None)


def _matching_offer(
    offers: list[Offer], price: Decimal, currency: str | None, sku: str | None, availability: str | None
) -> Offer | None:
    """The offer that is the product: the same price and currency, and the same sku -- or, when no offer
    has the product's sku, the same availability (a price alone does not tell two sizes apart)."""
    same = [
        o
        for o in offers
        if o.price is not None
        and normalize_amount(o.price, currency) == price
        and (not o.currency or not currency or o.currency == currency)
    ]
    if sku:
        by_sku = [o for o in same if o.sku == sku]
        if by_sku:
            return by_sku[0]
    same = [o for o in same if not o.availability or not availability or o.availability == availability]
    if len(same) == 1:
        return same[0]
    return next((o for o in same if o.selected), None)


def _complete(offers: list[Offer], others: list[list[Offer]]) -> None:
    """An offer's missing name and list price from another source's offer of the same sku and price."""
    by_sku = {}
    for other in others:
        for offer in other:
            if offer.sku:
                by_sku.setdefault(offer.sku, offer)
    for offer in offers:
        twin = by_sku.get(offer.sku) if offer.sku else None
        if twin is None or twin.price is None or offer.price is None or twin.price != offer.price:
            continue
        offer.name = offer.name or twin.name
        if offer.list_price is None and twin.list_price is not None and twin.list_price > offer.price:
            offer.list_price = twin.list_price


def _finished_offers(offers: list[Offer], currency: str | None) -> list[Offer]:
    """Amounts normalized, the product's currency where an offer has none, exactly one selected."""
    if not offers:
        return []
    finished = []
    for offer in offers:
        offer_currency = offer.currency or currency
        finished.append(
            dataclasses.replace(
                offer,
                currency=offer_currency,
                price=normalize_amount(offer.price, offer_currency),
                list_price=normalize_amount(offer.list_price, offer_currency),
                high_price=normalize_amount(offer.high_price, offer_currency),
            )
        )
    chosen = [i for i, offer in enumerate(finished) if offer.selected] or [0]
    for i, offer in enumerate(finished):
        offer.selected = i == chosen[0]
        if offer.list_price is not None and (offer.price is None or offer.list_price <= offer.price):
            offer.list_price = None
    return finished


def _str(value: object) -> str | None:
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text or None
