"""Retry-After, read one way by every stage that honours it (the crawler's retries, webhook delivery)."""

from datetime import UTC, datetime, timedelta

import pytest

from core.retry_after import retry_after_seconds

NOW = datetime(2026, 11, 21, 2, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "value, expected",
    [
        ("120", 120.0),
        (b"120", 120.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        ("007", 7.0),
    ],
)
def test_delay_seconds(value, expected):
    assert retry_after_seconds(value, now=NOW) == expected


@pytest.mark.parametrize(
    "value",
    [
        "Sat, 21 Nov 2026 02:02:00 GMT",  # IMF-fixdate, the form RFC 9110 asks senders to use
        "Saturday, 21-Nov-26 02:02:00 GMT",  # obsolete RFC 850 form
        "Sat Nov 21 02:02:00 2026",  # obsolete asctime form (no zone: GMT)
        b"Sat, 21 Nov 2026 02:02:00 GMT",  # bytes, as Scrapy hands headers over
    ],
)
def test_http_date_is_the_seconds_until_then(value):
    assert retry_after_seconds(value, now=NOW) == pytest.approx(120.0)


def test_past_date_means_now():
    assert retry_after_seconds("Fri, 20 Nov 2026 02:00:00 GMT", now=NOW) == 0.0


def test_default_now_is_the_clock():
    soon = (datetime.now(UTC) + timedelta(seconds=90)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert 80 < retry_after_seconds(soon) <= 90


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "   ",
        b"",
        "soon",
        "-5",
        "1.5",
        "+5",
        "12abc",
        "0x10",
        "Sat, 99 Nov 2026 02:02:00 GMT",
        "Sat, 21 Nov 2026",
        "\x00",
        "\u0661\u0662",  # Arabic-Indic digits are not DIGIT
    ],
)
def test_garbage_is_none(value):
    assert retry_after_seconds(value, now=NOW) is None


def test_huge_values_are_bounded_not_errors():
    assert retry_after_seconds("9" * 400, now=NOW) == retry_after_seconds("9" * 20, now=NOW) > 86400 * 365


def test_the_crawler_and_webhook_delivery_use_this_parser():
    import crawler.middlewares
    import webhooks.delivery

    assert crawler.middlewares.retry_after_seconds is retry_after_seconds
    assert webhooks.delivery.retry_after_seconds is retry_after_seconds
