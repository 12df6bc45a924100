-- chinwag schema 1: history, accounts, channels, server bans.

-- One row per PRIVMSG/NOTICE/TAGMSG. seq (the rowid) is arrival order; queries order by
-- (time_ms, seq) inside one conversation. conv is the folded channel name, or for private
-- messages "party_a party_b" (sorted; no name holds a space).
CREATE TABLE history (
    seq INTEGER PRIMARY KEY,
    msgid TEXT NOT NULL UNIQUE,
    conv TEXT NOT NULL,
    time_ms INTEGER NOT NULL,
    time REAL NOT NULL,
    party_a TEXT,
    party_b TEXT,
    target_name TEXT NOT NULL,
    sender TEXT NOT NULL,
    account TEXT,
    command TEXT NOT NULL,
    text TEXT NOT NULL,
    tags TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX history_conv_position ON history (conv, time_ms, seq);
CREATE INDEX history_party_a ON history (party_a) WHERE party_a IS NOT NULL;
CREATE INDEX history_party_b ON history (party_b) WHERE party_b IS NOT NULL;

CREATE TABLE accounts (
    name_folded TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    email TEXT,
    created_at REAL NOT NULL,
    admin INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- bans is a JSON array of [mask, set_by, set_at]: a channel record is always saved whole.
CREATE TABLE channels (
    name_folded TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    founder TEXT,
    registered_at REAL,
    topic_text TEXT,
    topic_set_by TEXT,
    topic_set_at REAL,
    modes TEXT NOT NULL DEFAULT '',
    bans TEXT NOT NULL DEFAULT '[]'
) WITHOUT ROWID;

CREATE TABLE server_bans (
    kind TEXT NOT NULL,
    target TEXT NOT NULL,
    reason TEXT NOT NULL,
    set_by TEXT NOT NULL,
    set_at REAL NOT NULL,
    expires_at REAL,
    PRIMARY KEY (kind, target)
) WITHOUT ROWID;
