-- One-shot messages of the officers' pages (issue 30, item 11): kept with the session on the
-- server, shown once, never carried in a URL that anyone could craft.
ALTER TABLE web_sessions ADD COLUMN flash TEXT NOT NULL DEFAULT '';
