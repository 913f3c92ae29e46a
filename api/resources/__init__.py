"""The API's blueprints, one per resource group."""

from api.resources import crawls, health, keys, products, webhooks, websites

BLUEPRINTS = (health.blp, keys.blp, websites.blp, crawls.blp, webhooks.blp, products.blp)
