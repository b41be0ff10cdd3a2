-- Runs once, when the PostgreSQL volume is first initialised: a database for the
-- optional self-hosted Infisical (compose profile `infisical`). tollway's own database
-- is POSTGRES_DB.
CREATE DATABASE infisical OWNER tollway;
