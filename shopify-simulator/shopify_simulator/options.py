"""Every knob of the simulator in one frozen dataclass, with Shopify's documented values as defaults.

Where Shopify does not document a behaviour (``../shared/docs/shopify-contract.md`` calls it
**unconfirmed**), the simulator's choice is an option here so that tests can pin either reading.
``shopify_simulator.server`` re-exports ``SimulatorOptions``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

PlanName = Literal["standard", "advanced", "plus", "enterprise"]

# Restore rates per plan, points per second.
# https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits
RESTORE_RATES: dict[str, float] = {"standard": 100.0, "advanced": 200.0, "plus": 1000.0, "enterprise": 2000.0}
# The bucket size is not published; older material shows 1000 with a restore rate of 50 (20x).
BUCKET_FACTOR = 20.0

# Quarterly versions supported on 2026-10-01 (each for at least 12 months), plus the release candidate.
# https://shopify.dev/docs/api/usage/versioning
SUPPORTED_API_VERSIONS: tuple[str, ...] = ("2025-10", "2026-01", "2026-04", "2026-07", "2026-10", "2027-01")


@dataclass(frozen=True)
class SimulatorOptions:
    """How the simulated shop behaves; every field has a default that follows Shopify's documentation."""

    # --- credentials ---------------------------------------------------------------------------------
    access_token: str = "shpat_simulator"  # noqa: S105 - a documented default, not a secret
    # Client credentials grant: both set = /admin/oauth/access_token hands out expiring tokens.
    # https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/client-credentials-grant
    client_id: str | None = None
    client_secret: str | None = None
    granted_token_lifetime: float = 86_399.0  # "about 24 h"
    granted_scope: str = "write_products,write_inventory,read_locations,write_publications"

    # --- versions ------------------------------------------------------------------------------------
    api_versions: tuple[str, ...] = SUPPORTED_API_VERSIONS
    # A well-formed but unsupported version is served by the oldest supported one ("oldest"); "404" refuses
    # it. A malformed version string is always 404 (unconfirmed). https://shopify.dev/docs/api/usage/versioning
    unsupported_version: Literal["oldest", "404"] = "oldest"

    # --- throttling ----------------------------------------------------------------------------------
    plan: PlanName = "standard"
    bucket_size: float | None = None  # None = BUCKET_FACTOR x restore rate (unconfirmed)
    restore_rate: float | None = None  # None = the plan's documented rate
    max_query_cost: int = 1000  # https://shopify.dev/docs/api/usage/limits
    throttled_http_status: Literal[200, 429] = 200  # unconfirmed: 200 by Shopify's general rule
    throttling_enabled: bool = True

    # --- reply shapes recorded from real shops (issue 16; ../shared/docs/shopify-contract-evidence.md) -----
    # Which replies carry `extensions.cost.throttleStatus`. "always" is the documented shape. Shopify sends
    # none for whole shops ("never"; 'staff' plan: https://github.com/MONEI/Shopify-api-node/pull/366);
    # error replies may carry no `extensions` at all ("not_on_errors"; the recorded MAX_COST_EXCEEDED body
    # has none: https://gist.github.com/lacom/56e3834834e250270062583f425274b9); "not_on_first": only the
    # first reply after start or reset lacks it (a reply without it must not stall the requests behind it).
    throttle_status: Literal["always", "not_on_first", "not_on_errors", "never"] = "always"
    # THROTTLED with `extensions.code` ("code", recorded 2023 in the gist above and in
    # https://community.shopify.com/t/throttled/254776, there with an integer currentlyAvailable beside
    # float maximumAvailable/restoreRate) or by message alone
    # ("message": `{"errors":[{"message":"Throttled"}]}`, recorded 2020:
    # https://community.shopify.com/t/graphql-admin-api-example-throttled-requests-response/8456), or no
    # body at all ("empty", meant with throttled_http_status 429). The HTTP status stays unconfirmed.
    throttled_shape: Literal["code", "message", "empty"] = "code"
    # `Retry-After` (seconds) on throttled replies. A REST 429 carries it (contract §1.2; clients such as
    # https://github.com/ScreenStaring/shopify_api_retry wait for it); no recorded GraphQL THROTTLED reply
    # shows one (C8456, the gist above), hence None.
    throttled_retry_after: float | None = None
    # A bulk start refused because every slot is taken: "code" (the schema's LIMIT_REACHED /
    # OPERATION_IN_PROGRESS) or "message": before 2026-01 real shops answered "A bulk mutation operation for
    # this app and shop is already in progress: gid://shopify/BulkOperation/…" with no code (Airbyte
    # source-shopify `shopify_graphql/bulk/job.py` and its unit-test conftest; Estuary source-shopify-native
    # `graphql/bulk_job_manager.py` matches the text, never the code). The client must wait on either.
    bulk_busy_shape: Literal["code", "message"] = "code"

    # --- bulk operations -----------------------------------------------------------------------------
    bulk_rate: float = 200.0  # bulk mutation lines (and query objects) processed per second
    bulk_query_rate: float | None = None  # None = bulk_rate
    bulk_shuffle_lines: bool = True  # lines "not processed in order" (imports guide); False = file order
    bulk_random_seed: int | None = None
    max_upload_bytes: int = 100_000_000  # 100 MB (10^8 or 100 MiB is unconfirmed)
    # From 2026-01 five operations at once; shared pool or per type is unconfirmed.
    # https://shopify.dev/changelog/faster-bulk-operations
    bulk_concurrency: int = 5
    bulk_concurrency_shared: bool = True
    bulk_limit_error_code: Literal["LIMIT_REACHED", "OPERATION_IN_PROGRESS"] = "LIMIT_REACHED"
    # --- bulk result lines ---
    # Where an uploaded JSONL file is split into lines: at "\n" only ("newline"), or at every separator
    # `str.splitlines` knows ("splitlines": U+2028, U+2029, U+0085 too), the simulator's old behaviour, kept
    # only so a test can show a client catching a line answered with another line's product (contract
    # evidence, finding 2). Shopify does not say how it splits; the imports guide asks for JSONL, which
    # https://jsonlines.org defines with "Line Terminator is '\n'" ('\r\n' works as trailing white
    # space); JSON strings may hold U+2028/U+2029/U+0085 raw, and orjson writes them so.
    jsonl_split: Literal["newline", "splitlines"] = "newline"
    # --- bulk lifecycle and store limits (issue 16) ---
    # Shared pool or five of each type: the changelog says "up to five bulk operations per shop"
    # (https://shopify.dev/changelog/faster-bulk-operations); the imports and queries guides say five bulk
    # *mutation* and five bulk *query* operations (https://shopify.dev/docs/api/usage/bulk-operations/imports,
    # .../queries). Still unconfirmed; `bulk_concurrency_shared=False` is the per-type reading (5 + 5).
    # The daily variant cap (``variant_cap.py``): below Plus, from `variant_cap_threshold` variants held, at
    # most `variant_cap_per_day` new variants a day (UTC). None = no cap. Documented on productCreate
    # ("a store has 50,000 product variants ... no more than 1,000 new product variants ... per day") and
    # https://shopify.dev/changelog/api-call-limits-will-be-applied-to-variant-creation. The message is
    # Shopify's recorded REST text; the GraphQL error code is unconfirmed (ProductSetUserErrorCode has no
    # throttle code): None sends the message alone.
    # Input limits are not enforced here; erpsync checks them before any write (erpsync/limits.py, with
    # sources): 255 characters for title, handle, SKU, barcode, each tag and option value; 250 tags; metafield
    # values 64 KB (2 KB for id and url), JSON 128 KB from 2026-04 — announced as 16 KB for every type, then
    # revised (https://shopify.dev/changelog/reduced-metafield-value-sizes,
    # https://shopify.dev/docs/apps/build/metafields/metafield-limits).
    variant_cap_threshold: int = 50_000
    variant_cap_per_day: int | None = 1_000
    variant_cap_error_code: str | None = None

    # --- product semantics (unconfirmed points of productSet) ----------------------------------------
    # "id: Specifies the product variant to update or create a new variant if absent" (schema): a variant
    # without an id is new ("id"); "options" also matches an existing variant by its option values.
    variant_matching: Literal["id", "options"] = "id"
    missing_product_error_code: Literal["NOT_FOUND", "PRODUCT_DOES_NOT_EXIST"] = "NOT_FOUND"
    default_create_status: Literal["ACTIVE", "DRAFT"] = "ACTIVE"
    # A create whose explicit handle another product holds: HANDLE_NOT_UNIQUE ("error", the schema's code)
    # or a free handle with a number appended ("suffix", as for handles made from titles): unconfirmed.
    taken_handle_on_create: Literal["error", "suffix"] = "error"
    # `identifier.customId` needs a metafield definition of type id (working-with-custom-ids, step 1).
    custom_id_requires_definition: bool = True

    # Inventory mutations sent without `@idempotent(key:)` from 2026-04: "error" as the changelog says, or
    # "accept" as a merchant found 2026-04 doing (both cited in idempotency.py).
    missing_idempotency_key: Literal["error", "accept"] = "error"

    # --- shop ----------------------------------------------------------------------------------------
    shop_name: str = "erpsync simulator"
    currency_code: str = "EUR"
    location_names: tuple[str, ...] = ("Main warehouse",)

    # --- media and sales channels (media.py, publications.py) ----------------------------------------
    # productSet `files`: "The list of files to associate with the product" (schema, FileSetInput has `id`
    # and `originalSource`). Each entry without an `id` is new media; a given `id` keeps that media as is;
    # media left out of a given list is removed from the product. Found: shopify.dev productSet reference
    # (files replace the list, like every list input) and community.shopify.com/t/productset-and-media/313485
    # (a media id from fileCreate attaches existing media). An unknown `id` is refused with
    # `unknown_media_error_code` (the code is unconfirmed; the schema has both).
    unknown_media_error_code: Literal["INVALID_INPUT", "NOT_FOUND"] = "INVALID_INPUT"
    # A variant's `file` given by `originalSource` that the product already holds (by source URL) links that
    # media ("url", unconfirmed: the schema says only "the file to associate with the variant"); "new"
    # always creates media, as an upload without id does for the product.
    variant_file_matching: Literal["url", "new"] = "url"
    # The shop's sales channels, each a publication (`publications` query). ProductStatus documents that
    # "Products with an active status aren't automatically published to sales channels" and that ARCHIVED
    # and DRAFT products aren't "available to customers on sales channels" (shopify.dev enums/ProductStatus,
    # 2026-10): status hides a product, publications say where; a status change alone keeps publications.
    # publishablePublish/publishableUnpublish run in bulk (bulk imports guide: any mutation taking its
    # input as variables; whether every one is allowed is unconfirmed).
    publication_names: tuple[str, ...] = ("Online Store", "Point of Sale")

    # --- persistence and testing ---------------------------------------------------------------------
    state_file: Path | None = None
    admin: bool = False  # /_simulator/* endpoints (stats, faults, reset)

    def effective_restore_rate(self) -> float:
        """Points restored per second."""
        return self.restore_rate if self.restore_rate is not None else RESTORE_RATES[self.plan]

    def effective_bucket_size(self) -> float:
        """Points the bucket holds when full."""
        if self.bucket_size is not None:
            return self.bucket_size
        return BUCKET_FACTOR * self.effective_restore_rate()
