-- chinwag schema 3: SCRAM-SHA-256 credentials next to the argon2 hash.

-- "iterations$salt$stored_key$server_key" (base64 parts), made whenever a password is set; NULL
-- for accounts whose password predates it, until their next password login fills it in.
ALTER TABLE accounts ADD COLUMN scram TEXT;
