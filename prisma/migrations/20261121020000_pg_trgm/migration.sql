-- The trigram GIN indexes of schema.prisma (board issue search, `q` in API §4.1) need pg_trgm
-- before `init` creates them. It ships with the embedded PostgreSQL and is a trusted extension,
-- so a database owner without superuser rights can create it. Kept out of schema.prisma because
-- the `postgresqlExtensions` preview makes `migrate diff --from-migrations` report it as missing.
CREATE EXTENSION IF NOT EXISTS "pg_trgm";
