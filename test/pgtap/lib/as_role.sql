-- Included by pgTAP files (\ir lib/as_role.sql): pg_temp.as_role(role, sql)
-- runs sql as the role and returns 'ok' or the SQLSTATE and message, so a test
-- can assert on a tenant's refusal without aborting its transaction. With
-- session => true the role becomes the session user too (SET SESSION
-- AUTHORIZATION), as when the tenant has logged in.
CREATE FUNCTION pg_temp.as_role(r text, q text, session boolean DEFAULT false) RETURNS text
    LANGUAGE plpgsql AS $$
DECLARE
    v_state text;
    v_msg text;
BEGIN
    EXECUTE format(CASE WHEN session THEN 'SET SESSION AUTHORIZATION %I' ELSE 'SET ROLE %I' END, r);
    BEGIN
        EXECUTE q;
        v_state := 'ok';
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_msg = MESSAGE_TEXT;
        v_state := v_state || ' ' || v_msg;
    END;
    IF session THEN
        RESET SESSION AUTHORIZATION;
    ELSE
        RESET ROLE;
    END IF;
    RETURN v_state;
END $$;
