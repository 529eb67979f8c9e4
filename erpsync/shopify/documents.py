"""Every GraphQL document erpsync sends, in one place, each validated in tests against the 2026-10 schema.

A `Document` carries the cost to reserve before sending it: for queries, the requested cost Shopify
computes (connections sized by `first`, objects 1, scalars 0); for mutations 10. The client replaces
the estimate with the `requestedQueryCost` Shopify reports once it has seen the document.
https://shopify.dev/docs/api/usage/limits
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson


@dataclass(frozen=True, slots=True)
class Document:
    name: str
    text: str
    estimated_cost: int
    is_mutation: bool = False


SHOP = Document(
    "shop",
    """
query erpsyncShop {
  shop { name myshopifyDomain currencyCode }
  location { id name isActive }
}
""",
    estimated_cost=2,
)

LOCATIONS = Document(
    "locations",
    """
query erpsyncLocations($first: Int!, $after: String) {
  locations(first: $first, after: $after) {
    nodes { id name isActive }
    pageInfo { hasNextPage endCursor }
  }
}
""",
    estimated_cost=12,
)

VARIANTS_BY_SKU = Document(
    "variantsBySku",
    """
query erpsyncVariantsBySku($query: String!, $first: Int!, $after: String, $location: ID!) {
  productVariants(first: $first, after: $after, query: $query) {
    nodes { id sku product { id handle } inventoryItem { inventoryLevel(locationId: $location) { id } } }
    pageInfo { hasNextPage endCursor }
  }
}
""",
    estimated_cost=998,  # a page of 249, as `sku_search.py` sizes it: 2 + 249 x 4 objects
)

# Whether the shop has any variant at all: an empty shop has nothing to adopt, whatever the feed holds.
# https://shopify.dev/docs/api/admin-graphql/latest/queries/productVariantsCount
VARIANTS_COUNT = Document(
    "variantsCount",
    """
query erpsyncVariantsCount {
  productVariantsCount(limit: 1) { count }
}
""",
    estimated_cost=1,
)

# The definition that makes erpsync's `$app.erpsync_id` product metafield a custom ID (type id: unique).
# https://shopify.dev/docs/apps/build/metafields/working-with-custom-ids
METAFIELD_DEFINITION = Document(
    "metafieldDefinition",
    """
query erpsyncMetafieldDefinition($identifier: MetafieldDefinitionIdentifierInput!) {
  metafieldDefinition(identifier: $identifier) { id namespace key type { name } }
}
""",
    estimated_cost=2,
)

METAFIELD_DEFINITION_CREATE = Document(
    "metafieldDefinitionCreate",
    """
mutation erpsyncMetafieldDefinitionCreate($definition: MetafieldDefinitionInput!) {
  metafieldDefinitionCreate(definition: $definition) {
    createdDefinition { id }
    userErrors { field message code }
  }
}
""",
    estimated_cost=10,
    is_mutation=True,
)

# One product's variants as the shop has them now: read when an id erpsync tracked turned out stale.
PRODUCT_VARIANTS = Document(
    "productVariants",
    """
query erpsyncProductVariants($id: ID!) {
  product(id: $id) { id handle variants(first: 250) { nodes { id sku } } }
}
""",
    estimated_cost=252,
)

STAGED_UPLOADS_CREATE = Document(
    "stagedUploadsCreate",
    """
mutation erpsyncStagedUpload($input: [StagedUploadInput!]!) {
  stagedUploadsCreate(input: $input) {
    stagedTargets { url resourceUrl parameters { name value } }
    userErrors { field message }
  }
}
""",
    estimated_cost=11,
    is_mutation=True,
)

BULK_OPERATION_FIELDS = """
    id type status errorCode createdAt completedAt objectCount rootObjectCount fileSize url partialDataUrl
"""

BULK_OPERATION_RUN_MUTATION = Document(
    "bulkOperationRunMutation",
    f"""
mutation erpsyncBulkMutation($mutation: String!, $stagedUploadPath: String!, $clientIdentifier: String) {{
  bulkOperationRunMutation(
    mutation: $mutation, stagedUploadPath: $stagedUploadPath, clientIdentifier: $clientIdentifier
  ) {{
    bulkOperation {{ {BULK_OPERATION_FIELDS} }}
    userErrors {{ field message code }}
  }}
}}
""",
    estimated_cost=10,
    is_mutation=True,
)

BULK_OPERATION_RUN_QUERY = Document(
    "bulkOperationRunQuery",
    f"""
mutation erpsyncBulkQuery($query: String!, $groupObjects: Boolean!) {{
  bulkOperationRunQuery(query: $query, groupObjects: $groupObjects) {{
    bulkOperation {{ {BULK_OPERATION_FIELDS} }}
    userErrors {{ field message code }}
  }}
}}
""",
    estimated_cost=10,
    is_mutation=True,
)

BULK_OPERATION = Document(
    "bulkOperation",
    f"""
query erpsyncBulkOperation($id: ID!) {{
  bulkOperation(id: $id) {{ {BULK_OPERATION_FIELDS} }}
}}
""",
    estimated_cost=1,
)

# Recent mutations, newest first (the default order), with their text: an operation started but never recorded is found by the name its
# mutation carries. 2026-10 cannot read `clientIdentifier` back (no field, no filter); `query` it can.
# https://shopify.dev/docs/api/admin-graphql/latest/queries/bulkOperations
RECENT_BULK_MUTATIONS = Document(
    "recentBulkMutations",
    """
query erpsyncRecentBulkMutations($first: Int!, $after: String) {
  bulkOperations(first: $first, after: $after, query: "operation_type:mutation") {
    nodes { id status query createdAt }
    pageInfo { hasNextPage endCursor }
  }
}
""",
    estimated_cost=52,
)

BULK_OPERATION_CANCEL = Document(
    "bulkOperationCancel",
    f"""
mutation erpsyncBulkCancel($id: ID!) {{
  bulkOperationCancel(id: $id) {{
    bulkOperation {{ {BULK_OPERATION_FIELDS} }}
    userErrors {{ field message }}
  }}
}}
""",
    estimated_cost=10,
    is_mutation=True,
)

# The mutations run inside bulk operations: one variables object per JSONL line.
# https://shopify.dev/docs/api/usage/bulk-operations/imports
# `media` gives the ids of the images the line sent (a product holds at most 250 media), so that the next
# write sends them by id instead of uploading them again (`FileSetInput.id`, schema). Each variant's
# `inventoryItem { id }` is what stock is later written to (erpsync/stock.py).
PRODUCT_SET_BULK = Document(
    "productSet",
    "mutation call($identifier: ProductSetIdentifiers, $input: ProductSetInput!) { "
    "productSet(identifier: $identifier, input: $input) { "
    "product { id handle updatedAt variants(first: 250) { nodes { id sku inventoryItem { id } } } "
    "media(first: 250) { nodes { id ... on MediaImage { originalSource { url } } } } } "
    "userErrors { field message code } } }",
    estimated_cost=10,
    is_mutation=True,
)

# A change that touches only fields of existing variants: those fields of those variants, by id, and
# nothing else of the product (no media, no metafields, no other variant). All or nothing per line
# (`allowPartialUpdates: false`), like a productSet line.
# https://shopify.dev/docs/api/admin-graphql/latest/mutations/productVariantsBulkUpdate
PRODUCT_VARIANTS_BULK_UPDATE_BULK = Document(
    "productVariantsBulkUpdate",
    "mutation call($productId: ID!, $variants: [ProductVariantsBulkInput!]!) { "
    "productVariantsBulkUpdate(productId: $productId, variants: $variants, allowPartialUpdates: false) { "
    "product { id handle updatedAt } productVariants { id sku } userErrors { field message code } } }",
    estimated_cost=10,
    is_mutation=True,
)

# Stock an existing variant at the config's location with the feed's quantity: productSet takes stock for
# an existing variant only where it is already stocked. https://shopify.dev/docs/api/admin-graphql/latest/mutations/inventoryActivate
INVENTORY_ACTIVATE_BULK = Document(
    "inventoryActivate",
    "mutation call($inventoryItemId: ID!, $locationId: ID!, $available: Int) { "
    "inventoryActivate(inventoryItemId: $inventoryItemId, locationId: $locationId, available: $available) { "
    "inventoryLevel { id } userErrors { field message } } }",
    estimated_cost=10,
    is_mutation=True,
)

# Stock of existing variants, compare-and-set: a quantity is written only where the shop still holds its
# `changeFromQuantity` (else CHANGE_FROM_QUANTITY_STALE, and erpsync reads the line's items again). From
# 2026-04 every quantity must carry `changeFromQuantity` and the mutation an `@idempotent(key:)` directive
# ("calling these mutations without an idempotency directive will result in an error at runtime"); the
# directive sits on the mutation field, and in a bulk document its key is a variable, so each JSONL line
# carries its own key: a line sent again with its key is applied once. `inventorySetQuantities`, not
# `inventoryAdjustQuantities`: a delta alone would apply twice if the shop's answer were lost, and a
# compare-and-set of the absolute quantity says what the shop held when it was written.
# https://shopify.dev/docs/api/admin-graphql/latest/mutations/inventorySetQuantities ·
# https://shopify.dev/docs/api/admin-graphql/2027-01/payloads/InventorySetQuantitiesPayload ·
# https://shopify.dev/changelog/making-idempotency-mandatory-for-inventory-adjustments-and-refund-mutations ·
# https://shopify.dev/docs/api/usage/implementing-idempotency
INVENTORY_SET_QUANTITIES_BULK = Document(
    "inventorySetQuantities",
    "mutation call($input: InventorySetQuantitiesInput!, $idempotencyKey: String!) { "
    "inventorySetQuantities(input: $input) @idempotent(key: $idempotencyKey) { "
    "inventoryAdjustmentGroup { id } userErrors { field message code } } }",
    estimated_cost=10,
    is_mutation=True,
)

# What the shop holds now of some inventory items at the location (erpsync asks 100 ids): read when a stock
# line's compare failed, or for a variant whose stock erpsync never wrote. https://shopify.dev/docs/api/admin-graphql/latest/queries/nodes
INVENTORY_LEVELS = Document(
    "inventoryLevels",
    """
query erpsyncInventoryLevels($ids: [ID!]!, $location: ID!) {
  nodes(ids: $ids) {
    ... on ProductVariant { id inventoryItem { id inventoryLevel(locationId: $location) {
      quantities(names: ["available"]) { name quantity } } } }
    ... on InventoryItem { id inventoryLevel(locationId: $location) {
      quantities(names: ["available"]) { name quantity } } }
  }
}
""",
    estimated_cost=402,
)

# The custom ID on a product tracked before erpsync marked its products: that metafield alone is set,
# nothing else of the product is rewritten. https://shopify.dev/docs/api/admin-graphql/latest/mutations/metafieldsSet
METAFIELDS_SET_BULK = Document(
    "metafieldsSet",
    "mutation call($metafields: [MetafieldsSetInput!]!) { metafieldsSet(metafields: $metafields) { "
    "metafields { id } userErrors { field message code } } }",
    estimated_cost=10,
    is_mutation=True,
)

# Sales channels: the shop's publications, and publishing a product on some of them (or taking it off).
# `name` is deprecated in 2026-10 for `catalog.title`; both are read. https://shopify.dev/docs/api/admin-graphql/latest/queries/publications
PUBLICATIONS = Document(
    "publications",
    """
query erpsyncPublications($first: Int!, $after: String) {
  publications(first: $first, after: $after) {
    nodes { id name catalog { title } }
    pageInfo { hasNextPage endCursor }
  }
}
""",
    estimated_cost=52,
)

PUBLISHABLE_PUBLISH_BULK = Document(
    "publishablePublish",
    "mutation call($id: ID!, $input: [PublicationInput!]!) { publishablePublish(id: $id, input: $input) { "
    "userErrors { field message } } }",
    estimated_cost=10,
    is_mutation=True,
)

PUBLISHABLE_UNPUBLISH_BULK = Document(
    "publishableUnpublish",
    "mutation call($id: ID!, $input: [PublicationInput!]!) { publishableUnpublish(id: $id, input: $input) { "
    "userErrors { field message } } }",
    estimated_cost=10,
    is_mutation=True,
)

PRODUCT_DELETE_BULK = Document(
    "productDelete",
    "mutation call($input: ProductDeleteInput!) { productDelete(input: $input) { "
    "deletedProductId userErrors { field message } } }",
    estimated_cost=10,
    is_mutation=True,
)

# The adoption export: every product with its variants and metafields (4 connections, 2 levels).
# `status:` lists every status because the products filter defaults to active ones (contract §4).
# `inventoryLevel(locationId:)` is a plain field, so asking whether each variant is stocked where erpsync
# writes stock costs no extra connection. https://shopify.dev/docs/api/usage/bulk-operations/queries
PRODUCT_EXPORT_TEMPLATE = """
{
  products(query: "status:active,draft,archived,unlisted") {
    edges { node {
      id handle title status updatedAt
      metafields { edges { node { id namespace key type value } } }
      variants { edges { node {
        id sku title updatedAt selectedOptions { name value }
        inventoryItem { id inventoryLevel(locationId: LOCATION) { id } }
        metafields { edges { node { id namespace key type value } } }
      } } }
    } }
  }
}
"""


def product_export_query(location_id: str) -> str:
    """The export, asking about stock at `location_id` (a GID: quoted as a GraphQL string literal)."""
    literal = orjson.dumps(location_id).decode()  # JSON string escapes are GraphQL string escapes
    return PRODUCT_EXPORT_TEMPLATE.replace("LOCATION", literal)


PRODUCT_EXPORT_QUERY = product_export_query("gid://shopify/Location/1")


ALL_DOCUMENTS: tuple[Document, ...] = (
    SHOP,
    LOCATIONS,
    VARIANTS_BY_SKU,
    VARIANTS_COUNT,
    METAFIELD_DEFINITION,
    METAFIELD_DEFINITION_CREATE,
    PRODUCT_VARIANTS,
    STAGED_UPLOADS_CREATE,
    BULK_OPERATION_RUN_MUTATION,
    BULK_OPERATION_RUN_QUERY,
    BULK_OPERATION,
    RECENT_BULK_MUTATIONS,
    BULK_OPERATION_CANCEL,
    PRODUCT_SET_BULK,
    PRODUCT_DELETE_BULK,
    PRODUCT_VARIANTS_BULK_UPDATE_BULK,
    INVENTORY_ACTIVATE_BULK,
    INVENTORY_SET_QUANTITIES_BULK,
    INVENTORY_LEVELS,
    METAFIELDS_SET_BULK,
    PUBLICATIONS,
    PUBLISHABLE_PUBLISH_BULK,
    PUBLISHABLE_UNPUBLISH_BULK,
)

# `erpsync check`: the shop answers, the token is good, and what the app may do.
# https://shopify.dev/docs/api/admin-graphql/latest/queries/currentAppInstallation
CHECK = Document(
    "check",
    """
query erpsyncCheck {
  shop { name myshopifyDomain currencyCode plan { publicDisplayName partnerDevelopment shopifyPlus } }
  currentAppInstallation { accessScopes { handle } }
}
""",
    estimated_cost=3,
)
