-- Readiness compares applied migrations with the ones the running build knows; the application role
-- needs to read sqlx's bookkeeping for that, and nothing more.
GRANT SELECT ON _sqlx_migrations TO ms5_app;
