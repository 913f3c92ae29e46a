"""DiffPipeline: compare each observation with the product's latest state.

Sets ``item.changes`` (what differs from the last good observation). This is
the hook change detection hangs on: thresholds, the last notified price and
alerts come with the change-detection issue. A failed observation never
changes anything.
"""

from __future__ import annotations

from crawler.items import ObservationItem


class DiffPipeline:
    def __init__(self):
        self.latest: dict[int, dict] = {}

    def open_spider(self, spider=None):
        spider = spider or self.spider
        self.latest = {p["id"]: p for p in getattr(spider, "products", [])}

    @classmethod
    def from_crawler(cls, crawler):
        pipeline = cls()
        pipeline.crawler = crawler
        return pipeline

    @property
    def spider(self):
        return self.crawler.spider

    def process_item(self, item, spider=None):
        if not isinstance(item, ObservationItem) or not item.ok:
            return item
        before = self.latest.get(item.product_id)
        if before is None or before.get("last_ok_at") is None:
            return item  # the baseline: nothing to compare with
        changes = []
        if (item.price, item.currency) != (before["price"], before["currency"]):
            changes.append({"type": "price_changed",
                            "before": {"price": before["price"], "currency": before["currency"]},
                            "after": {"price": item.price, "currency": item.currency}})
        if item.availability != before["availability"]:
            changes.append({"type": "stock_changed", "before": {"availability": before["availability"]},
                            "after": {"availability": item.availability}})
        item.changes = changes
        self.latest[item.product_id] = {**before, "price": item.price, "currency": item.currency,
                                        "availability": item.availability, "last_ok_at": item.observed_at}
        return item
