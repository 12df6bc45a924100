-- chinwag schema 5: registered channels keep the identity their history is stored under.

-- An unregistered channel's history is keyed by "name!token", drawn when the channel is
-- created, so that a channel of the same name created later starts empty. Registering a
-- channel saves its identity here; channels registered before this have none and keep their
-- plain folded name, under which their history already is.
ALTER TABLE channels ADD COLUMN identity TEXT NOT NULL DEFAULT '';
