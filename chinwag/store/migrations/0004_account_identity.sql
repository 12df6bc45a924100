-- chinwag schema 4: accounts get an identity that a later account of the same name never has.

-- Private history is keyed by "name!uid" for accounts made from now on. Existing accounts keep
-- an empty uid, and with it their plain name as identity, so their history stays theirs.
ALTER TABLE accounts ADD COLUMN uid TEXT NOT NULL DEFAULT '';
