-- Commands retried with the same Idempotency-Key (or the same natural key) repeat their first
-- answer: the key, the fingerprint of the request it was first used with, the events it
-- published and the answer given. A row without an answer is a request still in progress.
CREATE TABLE idempotency_keys (
    command     text        NOT NULL,
    subject     text        NOT NULL,
    key         text        NOT NULL,
    fingerprint text        NOT NULL,
    event_ids   uuid[],
    answer      jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (command, subject, key)
);
