"""The API's blueprints, one module each."""

from api.resources import health, keys, products, websites

BLUEPRINTS = (health.blp, keys.blp, websites.blp, products.blp)
