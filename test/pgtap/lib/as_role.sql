-- Included by pgTAP files (\ir lib/as_role.sql): pg_temp.as_role(role, sql)
-- runs sql as the role and returns 'ok' or the SQLSTATE and message, so a test
-- can assert on a tenant's refusal without aborting its transaction.
CREATE FUNCTION pg_temp.as_role(r text, q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_state text;
    v_msg text;
BEGIN
    EXECUTE format('SET ROLE %I', r);
    BEGIN
        EXECUTE q;
        v_state := 'ok';
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_msg = MESSAGE_TEXT;
        v_state := v_state || ' ' || v_msg;
    END;
    RESET ROLE;
    RETURN v_state;
END $$;
