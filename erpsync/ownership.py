"""Which products erpsync owns in a shop, and how it says so in the shop itself.

Every product erpsync creates carries an app-owned metafield of type `id` (a custom ID), so a create and
its retries go by that identifier and can only ever land on erpsync's own product — never by handle,
which a merchant's product may hold. The value is derived from the config and the product key, so a run
killed before it recorded a create finds the same product again.
https://shopify.dev/docs/apps/build/metafields/working-with-custom-ids
"""

from __future__ import annotations

import hashlib
from typing import Any

from erpsync.models import SyncConfig

OWNER_NAMESPACE = "$app"  # reserved to this app: no merchant or other app writes it
OWNER_KEY = "erpsync_id"
OWNER_TYPE = "id"
DEFAULT_SHOP = ""  # the key of the settings' shop in `sku_owners`


def owner_id(config_id: str, product_key: str) -> str:
    """`erpsync-` and 32 hex digits; `sql/0004_ownership.sql` computes the same for tracked products."""
    digest = hashlib.sha256(f"{config_id}\n{product_key}".encode()).hexdigest()
    return f"erpsync-{digest[:32]}"


def owner_metafield(value: str) -> dict[str, str]:
    return {"namespace": OWNER_NAMESPACE, "key": OWNER_KEY, "type": OWNER_TYPE, "value": value}


def owner_identifier(value: str) -> dict[str, Any]:
    """`ProductSetIdentifiers.customId` for a product erpsync owns."""
    return {"customId": {"namespace": OWNER_NAMESPACE, "key": OWNER_KEY, "value": value}}


def shop_key(config: SyncConfig) -> str:
    """The shop a config writes to, as `sku_owners` names it."""
    return config.shop.shop.lower() if config.shop is not None else DEFAULT_SHOP
