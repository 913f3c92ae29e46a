"""DiffPipeline: change detection against what the client was last notified of.

- Price: ``|new - notified| / notified * 100 >= price_threshold_pct`` — measured against the last
  *notified* price (the baseline at first), never the first price ever seen, so slow drifts alert once
  they add up and each alert resets the reference. A currency change is a change; a price that appears
  is a change. A price that is no longer shown is not: only a sold-out page is an ok observation without
  one (the spider fails any other page where no price can be told apart), its stock change says what
  happened, and the last notified price stays the reference.
- Stock: a transition between what matters to a buyer: in stock (InStock, LimitedAvailability), out
  (OutOfStock, Discontinued), PreOrder, BackOrder. An unknown availability is no transition.
- Failed observations and flagged ones (a suspicious change the re-fetch did not confirm) never change
  anything. The baseline (a product's first good observation) is not a change.
- Variants: price and availability are the product's *reported* offer's (the one its URL selects, else
  the page's default: see crawler.extract.cascade), so another size selling out is no stock change and
  the selected size selling out is one. Only the reported offer is compared, never the others.

Each change's ``before``/``after`` hold price, currency, availability (``before``: as last notified), plus
``list_price`` and ``sku`` -- the reported offer's sku, else the product's (``before``: as last observed).

Sets ``item.changes``; PersistPipeline writes them to the outbox in the crawl's transaction.
"""

from __future__ import annotations

from decimal import Decimal

from core.vocabulary import BUYER_STATE
from crawler.items import ObservationItem


def price_change(notified: dict, item, threshold_pct: Decimal) -> dict | None:
    before_price, before_currency = notified.get("notified_price"), notified.get("notified_currency")
    if item.price is None:
        return None  # no price shown (a sold-out page): unknown, not a price that vanished; the stock says it
    change_pct = None
    if before_price is not None and item.price is not None and before_currency == item.currency:
        if item.price == before_price:
            return None
        change_pct = (item.price - before_price) / before_price * 100
        if abs(change_pct) < threshold_pct:
            return None
    return {
        "type": "price_changed",
        "change_pct": change_pct,
        "before": {"price": before_price, "currency": before_currency},
        "after": {"price": item.price, "currency": item.currency},
    }


def stock_change(notified: dict, item) -> dict | None:
    before, after = notified.get("notified_availability"), item.availability
    if before is None or after is None or BUYER_STATE.get(before) == BUYER_STATE.get(after):
        return None
    return {
        "type": "stock_changed",
        "change_pct": None,
        "before": {"availability": before},
        "after": {"availability": after},
    }


def reported_sku(item) -> str | None:
    """The sku of the offer the product reports (its selected offer), else the product's."""
    for offer in item.offers or ():
        selected = offer.get("selected") if isinstance(offer, dict) else getattr(offer, "selected", False)
        if selected:
            sku = offer.get("sku") if isinstance(offer, dict) else getattr(offer, "sku", None)
            return sku or item.sku
    return item.sku


def detect(notified: dict, item, threshold_pct) -> list[dict]:
    """The changes an observation makes, given the product's notified state."""
    if notified.get("last_ok_at") is None:
        return []  # the baseline
    changes = [
        c for c in (price_change(notified, item, Decimal(str(threshold_pct))), stock_change(notified, item)) if c
    ]
    state = {
        "price": item.price,
        "currency": item.currency,
        "availability": item.availability,
        "list_price": item.list_price,
        "sku": reported_sku(item),
    }
    for change in changes:
        change["before"] = {
            "price": notified.get("notified_price"),
            "currency": notified.get("notified_currency"),
            "availability": notified.get("notified_availability"),
            "list_price": notified.get("list_price"),
            "sku": notified.get("reported_sku"),
        }
        change["after"] = dict(state)
    return changes


class DiffPipeline:
    """Each crawl carries its products' notified state (loaded once, with the crawl); this updates it as the
    crawl's own observations go by, so a product seen twice in one crawl is compared with the first."""

    def __init__(self, manager):
        self.manager = manager

    @classmethod
    def from_crawler(cls, crawler):
        from crawler.manager import CrawlManager

        return cls(CrawlManager.of(crawler))

    def process_item(self, item, spider=None):
        if not isinstance(item, ObservationItem) or not item.ok or item.flagged:
            return item
        crawl = self.manager.crawls.get(item.crawl_run_id)
        if crawl is None:
            return item
        state = crawl.notified.setdefault(item.product_id, {"last_ok_at": None})
        item.changes = detect(state, item, crawl.threshold)
        for change in item.changes:
            if change["type"] == "price_changed":
                state.update(notified_price=item.price, notified_currency=item.currency)
            else:
                state.update(notified_availability=item.availability)
        if state.get("last_ok_at") is None:  # baseline: what the client starts from
            state.update(
                notified_price=item.price, notified_currency=item.currency, notified_availability=item.availability
            )
        state.update(last_ok_at=item.observed_at, list_price=item.list_price, reported_sku=reported_sku(item))
        return item
