-- PL/pgSQL bodies are dollar-quoted; the ';' inside them do not end the statement.
CREATE FUNCTION sensor_data_purge(retain interval) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    removed bigint;
BEGIN
    DELETE FROM sensor_data WHERE "timestamp" < now() - retain;
    GET DIAGNOSTICS removed = ROW_COUNT;
    RAISE NOTICE 'sensor_data_purge: removed % rows; kept %', removed, retain;
    RETURN removed;
END;
$$;

-- Pseudonymised e-mail for exports: 'alice@example.com' -> 'a***@example.com'.
CREATE FUNCTION mask_email(email text) RETURNS text
LANGUAGE sql IMMUTABLE AS $body$
    SELECT CASE WHEN email IS NULL OR position('@' in email) = 0 THEN email
                ELSE left(email, 1) || '***@' || split_part(email, '@', 2) END;
$body$;
