-- One batch of the refresh benchmark's data set: projects :first .. :last,
-- each a schema with 3 tables with serial keys (one with a second index) and a
-- few rows, registered in schemahost.project. Run by bench/refresh.py with
-- psql -v first=N -v last=M; several batches run in parallel connections
-- (one connection creating thousands of schemas slows down as its relcache
-- grows).
SET client_min_messages = warning;
SELECT format($f$
CREATE SCHEMA p%1$s;
CREATE TABLE p%1$s.users (id serial PRIMARY KEY, email text);
CREATE TABLE p%1$s.posts (id serial PRIMARY KEY, user_id integer, body text);
CREATE INDEX ON p%1$s.posts (user_id);
CREATE TABLE p%1$s.tags (id serial PRIMARY KEY, name text);
INSERT INTO p%1$s.users (email) SELECT 'u' || g || '@example.com' FROM generate_series(1, 20) g;
INSERT INTO p%1$s.posts (user_id, body) SELECT g %% 20, repeat('post ', 40) FROM generate_series(1, 20) g;
INSERT INTO p%1$s.tags (name) SELECT 'tag' || g FROM generate_series(1, 5) g;
INSERT INTO schemahost.project (name, schema_oid, storage_quota_bytes, max_connections)
VALUES ('p%1$s', 'p%1$s'::regnamespace, 104857600, 10);
$f$, i)
FROM generate_series(:first::integer, :last::integer) i
\gexec
