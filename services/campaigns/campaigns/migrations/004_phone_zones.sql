-- The time zones the customer's first phone number implies, read from the sealed number by the
-- worker's phone-zones job (NULL: not read yet; empty: none known). Calling hours use them when
-- the profile names no time zone.
ALTER TABLE audience_facts ADD COLUMN phone_zones text[];
