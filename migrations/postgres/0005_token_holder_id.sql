-- The personal identifier (IIN) of the person a token was issued to (decision 15): self-review
-- is refused by comparing identifiers, never names. Tokens from before carry none.
ALTER TABLE api_tokens ADD COLUMN holder_id TEXT NOT NULL DEFAULT '';
