-- What a customer wrote in a survey answer, sealed as it came under its owner's key (note_owner),
-- opened only for readers of personal data and dropped on erasure, like the note.
ALTER TABLE timeline_entries ADD COLUMN answer text;
