"""`currentAppInstallation`: the app the token belongs to, with the access scopes it was granted.

The scopes are `SimulatorOptions.granted_scope`, the same list the client credentials grant hands out,
so a test can take one away and see a client refuse to go on without it.
https://shopify.dev/docs/api/admin-graphql/latest/queries/currentAppInstallation
"""

from __future__ import annotations

from typing import Any

from shopify_simulator.context import ExecutionContext


def app_installation_view(context: ExecutionContext) -> dict[str, Any]:
    handles = [scope.strip() for scope in context.options.granted_scope.split(",") if scope.strip()]
    return {
        "__typename": "AppInstallation",
        "id": "gid://shopify/AppInstallation/1",
        "accessScopes": [
            {"__typename": "AccessScope", "handle": handle, "description": handle} for handle in handles
        ],
        "launchUrl": "https://admin.shopify.com/store/simulator/apps/erpsync",
    }
