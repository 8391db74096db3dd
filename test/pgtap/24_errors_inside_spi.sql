-- An error raised inside the SPI query of a C function (schemahost_version()
-- reads pg_extension through SPI) reaches the caller as a plain ERROR, also
-- when exception blocks catch it again and again, and SPI works afterwards in
-- the same transaction. The error data is kept in the transaction's memory
-- and SPI is left to the (sub)transaction abort while the C++ frames unwind
-- (extension/pg_guard.hpp, extension/spi.cpp): before, SPI_finish() freed the
-- error that was then rethrown (a tenant crashed the server that way).
BEGIN;
CREATE EXTENSION schemahost;
SET client_min_messages = warning;
SELECT plan(5);
\ir lib/as_role.sql

-- In this transaction only: a non-superuser may not read pg_extension, so the
-- SPI query fails with 42501.
CREATE ROLE spi_probe;
REVOKE SELECT ON pg_catalog.pg_extension FROM PUBLIC;

SELECT is(pg_temp.as_role('spi_probe', 'SELECT * FROM public.schemahost_version()'),
          '42501 permission denied for table pg_extension',
          'an error inside the SPI query reaches the caller');
SELECT is(pg_temp.as_role('spi_probe', $q$
    DO $do$
    BEGIN
        FOR i IN 1 .. 500 LOOP
            BEGIN
                PERFORM public.schemahost_version();
            EXCEPTION WHEN insufficient_privilege THEN
                NULL;
            END;
        END LOOP;
    END
    $do$ $q$), 'ok', '500 of them caught by exception blocks');
SELECT is(pg_temp.as_role('spi_probe', $q$
    DO $do$
    BEGIN
        PERFORM public.schemahost_version();
    EXCEPTION WHEN insufficient_privilege THEN
        -- SPI again, at the level the failed call left behind.
        PERFORM count(*) FROM pg_catalog.pg_class;
    END
    $do$ $q$), 'ok', 'the handler can use SPI after the failed call');
GRANT SELECT ON pg_catalog.pg_extension TO spi_probe;
SELECT is(pg_temp.as_role('spi_probe', 'SELECT * FROM public.schemahost_version()'), 'ok',
          'the same session calls it successfully afterwards');
SELECT is((SELECT library_version = sql_version FROM schemahost_version()), true,
          'and so does the superuser, in the same transaction');

SELECT * FROM finish();
ROLLBACK;
