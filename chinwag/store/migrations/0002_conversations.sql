-- chinwag schema 2: the parties of private conversations in their own table.

-- One row per private conversation, not per message: the two partial indexes on
-- history.party_a/party_b it replaces cost two more index entries for every private message,
-- each on its own page (one page per party), so a commit of N messages between P pairs
-- wrote up to 3 * P index pages instead of P. TARGETS and forget look the parties up here.
CREATE TABLE conversations (
    conv TEXT PRIMARY KEY,
    party_a TEXT NOT NULL,
    party_b TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX conversations_party_a ON conversations (party_a);
CREATE INDEX conversations_party_b ON conversations (party_b);

INSERT OR IGNORE INTO conversations (conv, party_a, party_b)
    SELECT DISTINCT conv, party_a, party_b FROM history WHERE party_a IS NOT NULL;

DROP INDEX history_party_a;
DROP INDEX history_party_b;

-- Kept by the database itself, in the transaction of the insert: an existing conversation
-- costs one lookup in a small table, and no code path can forget it.
CREATE TRIGGER history_conversation AFTER INSERT ON history
WHEN NEW.party_a IS NOT NULL
BEGIN
    INSERT OR IGNORE INTO conversations (conv, party_a, party_b)
        VALUES (NEW.conv, NEW.party_a, NEW.party_b);
END;
