"""``python -m crawler``: the long-lived crawler process (see crawler.runner)."""

import sys

from crawler.runner import main

if __name__ == "__main__":
    sys.exit(main())
