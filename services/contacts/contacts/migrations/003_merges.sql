-- A merged duplicate keeps an empty row that points to its survivor (GET answers 410 with it).
ALTER TABLE profiles ADD COLUMN merged_into text;
