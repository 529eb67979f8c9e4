-- The media Shopify made of each image erpsync sent, by the image's source URL (the feed's URL): a
-- product written again sends an unchanged image as that media (`files: [{id}]`), never as a fresh upload,
-- which Shopify would download and store anew while removing the old media.
CREATE TABLE product_media (
    config_id   text NOT NULL,
    product_key text NOT NULL,
    source_url  text NOT NULL,
    media_id    text NOT NULL,
    PRIMARY KEY (config_id, product_key, source_url),
    FOREIGN KEY (config_id, product_key) REFERENCES product_states (config_id, product_key) ON DELETE CASCADE
);
