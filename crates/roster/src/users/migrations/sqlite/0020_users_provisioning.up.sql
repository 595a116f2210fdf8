-- An identity provider account is linked to at most one live user per tenant: two tenants provisioned from one
-- provider may both know it, and one tenant never learns that another does. A deleted user frees it.
DROP INDEX users_identity_key;
CREATE UNIQUE INDEX users_identity_key ON users (tenant_id, identity_provider, identity_provider_id)
    WHERE identity_provider IS NOT NULL AND deleted_at IS NULL;
-- user names found without regard to case (SCIM's userName is not case-exact)
CREATE INDEX users_username_lower ON users (tenant_id, lower(username)) WHERE deleted_at IS NULL;
