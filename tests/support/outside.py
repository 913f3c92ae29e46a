"""``python -m tests.support.outside [crawler arguments]``: the crawler process, in a world with a public side.

On this machine every address is loopback, so a test that needs a *public* shop beside a *private* service
(the deployment's own network) plays both on loopback addresses and says which of them count as public.
This module runs ``python -m crawler`` with two stand-ins, set by the test through the environment:

``OBSRV_TEST_PUBLIC_ADDRESSES``
    comma-separated addresses the SSRF check (:func:`core.urls.refused_address`) takes for public ones, e.g.
    ``127.0.0.1`` (the shop) while ``127.0.0.2`` (the "internal" service) stays loopback. Everything else
    in the check is the real one.
``OBSRV_TEST_NAMES``
    JSON ``{"name.test": [["first answer"], ["later answers"]]}``: the system resolver's answers for these
    names, lookup after lookup, as :class:`tests.support.names.Names` scripts them (the last one repeats;
    a name that answers differently later is DNS rebinding). Chromium, which resolves names itself when
    nothing routes it elsewhere, gets each name's last answer (``--host-resolver-rules``).
"""

from __future__ import annotations

import json
import os
import sys

import core.urls
from tests.support.names import Names


def _install() -> None:
    public = {a.strip() for a in os.environ.get("OBSRV_TEST_PUBLIC_ADDRESSES", "").split(",") if a.strip()}
    if public:
        real = core.urls._public
        core.urls._public = lambda address: address.split("%", 1)[0] in public or real(address)
    scripted = json.loads(os.environ.get("OBSRV_TEST_NAMES") or "{}")
    if scripted:
        names = Names()
        for name, answers in scripted.items():
            names.answer(name, *answers)
        names.install_in_process()
        rules = ", ".join(f"MAP {name} {answers[-1][0]}" for name, answers in scripted.items())
        import crawler.runner

        real_settings = crawler.runner.scrapy_settings

        def scrapy_settings(*args, **kwargs):
            s = real_settings(*args, **kwargs)
            options = dict(s.getdict("PLAYWRIGHT_LAUNCH_OPTIONS"))
            options["args"] = [f"--host-resolver-rules={rules}", *options.get("args", [])]
            s.set("PLAYWRIGHT_LAUNCH_OPTIONS", options)
            return s

        crawler.runner.scrapy_settings = scrapy_settings


if __name__ == "__main__":
    _install()
    from crawler.runner import main

    sys.exit(main(sys.argv[1:]))
