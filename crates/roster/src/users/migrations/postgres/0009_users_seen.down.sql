DROP INDEX users_last_seen;
