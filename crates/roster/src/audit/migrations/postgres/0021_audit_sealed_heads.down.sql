DROP TABLE secret_key_fingerprint;
ALTER TABLE audit_heads DROP COLUMN head_mac;
ALTER TABLE audit_heads DROP COLUMN unkeyed_through;
