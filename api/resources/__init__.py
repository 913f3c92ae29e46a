"""The API's blueprints, one module each."""

from api.resources import health, keys

BLUEPRINTS = (health.blp, keys.blp)
