-- Every event a service consumed from its own topic, as it arrived.
CREATE TABLE event_journal (
    event_id       uuid        PRIMARY KEY,
    subject        text        NOT NULL,
    type           text        NOT NULL,
    schema_version integer     NOT NULL,
    time           timestamptz NOT NULL,
    source         text        NOT NULL,
    correlation_id uuid        NOT NULL,
    causation_id   uuid,
    data           jsonb       NOT NULL,
    topic          text        NOT NULL,
    partition      integer     NOT NULL,
    kafka_offset   bigint      NOT NULL
);
CREATE INDEX event_journal_by_subject ON event_journal (subject, time);
