-- The person a token was issued to (an appeals officer's name), so that the service can tell
-- who decided from who reviews. Tokens from before carry none.
ALTER TABLE api_tokens ADD COLUMN holder TEXT NOT NULL DEFAULT '';
