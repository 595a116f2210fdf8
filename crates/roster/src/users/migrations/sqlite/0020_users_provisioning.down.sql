DROP INDEX users_username_lower;
DROP INDEX users_identity_key;
CREATE UNIQUE INDEX users_identity_key ON users (identity_provider, identity_provider_id)
    WHERE identity_provider IS NOT NULL;
