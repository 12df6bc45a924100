"""The store: one suite for the memory and SQLite stores, plus SQLite durability and crashes."""
