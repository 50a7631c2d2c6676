-- API key revocation takes effect at once in every API instance: each change to api_keys
-- (revoke, rotate, scope or limit edit, delete) notifies the channel the API listens on, and the
-- API drops its lookup cache on the notification (api/src/auth.ts). The payload is the key id only.
ALTER TABLE api_keys ADD COLUMN replaced_by uuid REFERENCES api_keys (id);

CREATE FUNCTION api_keys_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('feedlog_api_keys', coalesce(OLD.id, NEW.id)::text);
  RETURN NULL;
END;
$$;

CREATE TRIGGER api_keys_changed
  AFTER UPDATE OF revoked_at, scopes, rate_limit_per_minute, key_hash OR DELETE ON api_keys
  FOR EACH ROW EXECUTE FUNCTION api_keys_notify();
