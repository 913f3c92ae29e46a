"""Change detection: against the last *notified* state, past the threshold, only when real."""

from datetime import UTC, datetime
from decimal import Decimal as D
from types import SimpleNamespace

import pytest

from core.settings import load_settings
from crawler.items import ObservationItem
from crawler.spiders.products import ProductCrawl
from pipelines.diff import DiffPipeline, detect

SEEN = datetime(2026, 1, 1, tzinfo=UTC)


def notified(price="10.00", currency="GBP", availability="InStock", last_ok_at=SEEN):
    return {
        "notified_price": None if price is None else D(price),
        "notified_currency": currency,
        "notified_availability": availability,
        "last_ok_at": last_ok_at,
    }


def obs(price="10.00", currency="GBP", availability="InStock", **kw):
    return ObservationItem(
        url="u",
        product_id=1,
        crawl_run_id=7,
        ok=True,
        price=None if price is None else D(price),
        currency=currency,
        availability=availability,
        **kw,
    )


def pipeline_for(state: dict, threshold="1"):
    """The pipeline as a crawl uses it: the crawl (run 7) carries product 1's notified state."""
    crawl = ProductCrawl(
        products=[{"id": 1, "url": "u", **state}],
        work={"id": 1, "kind": "scheduled"},
        website={"id": 1, "domain": "shop.test", "crawl_rate_per_minute": 10, "price_threshold_pct": D(threshold)},
        run={"id": 7},
        settings=load_settings({}),
    )
    return DiffPipeline(SimpleNamespace(crawls={7: crawl})), crawl


@pytest.mark.parametrize(
    "new, threshold, changed",
    [
        ("10.00", 1, False),
        ("10.09", 1, False),
        ("10.10", 1, True),
        ("9.90", 1, True),
        ("9.91", 1, False),
        ("10.01", 0, True),
        ("12.00", 25, False),
        ("12.50", 25, True),
    ],
)
def test_price_threshold_against_notified_price(new, threshold, changed):
    changes = detect(notified(), obs(new), threshold)
    assert bool(changes) is changed
    if changed:
        assert changes[0]["type"] == "price_changed"
        assert changes[0]["before"]["price"] == D("10.00") and changes[0]["after"]["price"] == D(new)


def test_change_pct_is_signed_percent():
    [change] = detect(notified(), obs("8.00"), 1)
    assert change["change_pct"] == D("-20")


def test_currency_change_and_price_appearing_are_changes_a_price_no_longer_shown_is_not():
    assert detect(notified(), obs("10.00", "EUR"), 1)[0]["type"] == "price_changed"
    assert detect(notified(price=None, currency=None), obs("10.00"), 1)[0]["change_pct"] is None
    assert detect(notified(), obs(None, None), 1) == []  # #12 (10): never a price that vanished
    [sold_out] = detect(notified(availability="InStock"), obs(None, None, availability="OutOfStock"), 1)
    assert sold_out["type"] == "stock_changed"


@pytest.mark.parametrize(
    "before, after, changed",
    [
        ("InStock", "OutOfStock", True),
        ("OutOfStock", "InStock", True),
        ("InStock", "PreOrder", True),
        ("InStock", "BackOrder", True),
        ("InStock", "LimitedAvailability", False),
        ("OutOfStock", "Discontinued", False),
        ("InStock", None, False),
        (None, "InStock", False),
    ],
)
def test_stock_changes_that_matter_to_a_buyer(before, after, changed):
    changes = detect(notified(availability=before), obs(availability=after), 1)
    assert [c["type"] for c in changes] == (["stock_changed"] if changed else [])


def test_baseline_is_not_a_change():
    assert detect(notified(last_ok_at=None), obs("99.00", availability="OutOfStock"), 1) == []


def test_slow_drift_alerts_once_it_adds_up_then_resets_the_reference():
    pipeline, _crawl = pipeline_for(notified(), threshold="5")
    seen = []
    for price in ("10.20", "10.40", "10.60", "10.70", "10.90", "11.20"):
        item = pipeline.process_item(obs(price, observed_at=SEEN))
        seen.append((price, [c["type"] for c in item.changes]))
    # 10.60 is +6% of the notified 10.00: one alert; then 11.20 is +5.7% of the notified 10.60
    assert [p for p, c in seen if c] == ["10.60", "11.20"]


def test_failed_and_flagged_observations_never_change_anything():
    pipeline, crawl = pipeline_for(notified())
    failed = pipeline.process_item(
        ObservationItem(url="u", product_id=1, crawl_run_id=7, ok=False, error_type="blocked")
    )
    flagged = pipeline.process_item(obs("99.00", flagged=True))
    assert failed.changes == [] and flagged.changes == []
    assert crawl.notified[1]["notified_price"] == D("10.00")


# --- variants: only the reported offer alerts ---------------------------------------------------------------

SIZES_URL = "https://cnocknitwear.example/ie/ribbed-wool-beanie-forest-green-2207.html"


def beanie_page(sold_out=()):
    """The recorded beanie page (sizes S, M, L; S sold out), with some more sizes sold out."""
    from tests.crawler.extract.conftest import CASES_DIR

    html = (CASES_DIR / "jsonld_product_group_sizes.html").read_text(encoding="utf-8")
    for size in sold_out:
        marker = f'"size": "{size}",\n     "offers": {{'
        start = html.index(marker)
        end = html.index("}}", start)
        html = html[:start] + html[start:end].replace("schema.org/InStock", "schema.org/OutOfStock") + html[end:]
    return html


def observed(url, html, when):
    """What a crawl yields for the page: extraction, then NormalizePipeline (as the product spider does)."""
    from crawler.extract import extract_product
    from crawler.spiders.base import Crawl
    from pipelines.normalize import NormalizePipeline

    fields = Crawl.product_fields(extract_product(html, url), url)
    item = ObservationItem(product_id=1, crawl_run_id=7, ok=True, observed_at=when, **fields)
    return NormalizePipeline().process_item(item)


@pytest.mark.parametrize(
    "url, sells_out, alerts",
    [
        (SIZES_URL, "L", False),  # the default (M) is still in stock: L is another size
        (SIZES_URL + "?size=L", "M", False),  # the URL watches L; M selling out is nobody's business here
        (SIZES_URL + "?size=L", "L", True),  # the watched size sells out
    ],
)
def test_stock_alerts_follow_the_reported_offer_only(url, sells_out, alerts):
    first = observed(url, beanie_page(), SEEN)
    assert first.availability == "InStock" and first.offers[0]["availability"] == "OutOfStock"  # S was sold out
    pipeline, crawl = pipeline_for({"last_ok_at": None})
    pipeline.process_item(first)  # the baseline
    later = observed(url, beanie_page(sold_out=[sells_out]), SEEN.replace(day=2))
    changes = pipeline.process_item(later).changes
    assert [c["type"] for c in changes] == (["stock_changed"] if alerts else [])
    if alerts:
        [change] = changes
        assert change["before"]["availability"] == "InStock" and change["after"]["availability"] == "OutOfStock"
        assert change["before"]["sku"] == change["after"]["sku"] == "2207-FG-L"
        assert change["before"]["list_price"] == change["after"]["list_price"] == D("35.00")  # L is on sale


def test_the_default_size_selling_out_moves_the_report_to_the_next_size_without_a_stock_alert():
    pipeline, _crawl = pipeline_for({"last_ok_at": None})
    pipeline.process_item(observed(SIZES_URL, beanie_page(), SEEN))
    later = pipeline.process_item(observed(SIZES_URL, beanie_page(sold_out=["M"]), SEEN.replace(day=2)))
    assert (later.availability, later.sku, later.changes) == ("InStock", "2207-FG-L", [])


def test_changes_carry_list_price_and_the_reported_offers_sku():
    state = dict(notified(), list_price=D("12.00"), reported_sku="W-M")
    item = obs(
        "8.00",
        list_price=D("12.00"),
        sku="W",
        offers=[
            {"sku": "W-S", "price": D("8.00"), "selected": False},
            {"sku": "W-M", "price": D("8.00"), "selected": True},
        ],
    )
    [change] = detect(state, item, 1)
    assert change["before"] == {
        "price": D("10.00"),
        "currency": "GBP",
        "availability": "InStock",
        "list_price": D("12.00"),
        "sku": "W-M",
    }
    assert change["after"] == {
        "price": D("8.00"),
        "currency": "GBP",
        "availability": "InStock",
        "list_price": D("12.00"),
        "sku": "W-M",
    }
    assert detect(state, obs("8.00", sku="W"), 1)[0]["after"]["sku"] == "W"  # no offers: the product's sku
