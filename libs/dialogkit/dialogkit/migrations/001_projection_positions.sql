-- Where each projection stands in each topic partition; written in the same
-- transaction as the read-model change it covers.
CREATE TABLE projection_positions (
    projection  text        NOT NULL,
    topic       text        NOT NULL,
    partition   integer     NOT NULL,
    next_offset bigint      NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (projection, topic, partition)
);
