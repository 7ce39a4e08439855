-- The §7a ledger: each customer's consent events as published, signed, chained by hash.
CREATE TABLE consent_ledger (
    event_id  uuid    PRIMARY KEY,
    subject   text    NOT NULL,
    seq       integer NOT NULL,
    record    bytea   NOT NULL,
    signature text    NOT NULL,
    prev      text    NOT NULL,
    hash      text    NOT NULL,
    UNIQUE (subject, seq)
);

-- The last link of each chain, signed by the consent service.
CREATE TABLE consent_ledger_heads (
    subject   text        PRIMARY KEY,
    length    integer     NOT NULL,
    hash      text        NOT NULL,
    signature text        NOT NULL,
    signed_at timestamptz NOT NULL DEFAULT now()
);
