-- chinwag schema 6: SQLite becomes the index of the journal (store/journal.py, store/indexer.py).

-- How far the indexer got: every journal byte before this offset is in history. Updated in the
-- transaction of the rows, so a pass that dies half-way leaves no trace.
CREATE TABLE journal_index (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    indexed INTEGER NOT NULL
);
INSERT INTO journal_index (id, indexed) VALUES (1, 0);

-- The indexer adds a pass's new private conversations itself, once per conversation: the
-- trigger cost a lookup in conversations for every private row.
DROP TRIGGER history_conversation;
