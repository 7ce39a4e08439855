-- Notes stay sealed as they came; the customer whose data key sealed a note (it may be a
-- duplicate merged into the entry's customer) is kept with it, so a read can open it.
ALTER TABLE timeline_entries ADD COLUMN note_owner text;
