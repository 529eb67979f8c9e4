"""erpsync keeps a Shopify catalogue in step with an ERP product feed."""

__version__ = "0.1.0"
