"""Least privilege (issue 14): the web and the worker connect as a role that can read and write the data and
nothing more; migrations and maintenance run as the owner.

`crm_app` is a group role (NOLOGIN): `crm-provider db app-user NAME`, run as the owner, creates the login
role the service uses, a member of it. It may SELECT, INSERT, UPDATE and DELETE rows and use the sequences,
and on `audit_log` only SELECT and INSERT. It owns nothing, so it cannot alter, drop or truncate a table, nor
disable the audit log's append-only trigger; no role but the owner may create objects in the schema. Tables
the owner creates in later migrations get the same rights (default privileges).

Roles belong to the PostgreSQL cluster, not the database: two deployments on one cluster share `crm_app`
(give each its own cluster, or its own login role and CONNECT rights, as docs/deploy.md says).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        DO $$ BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'crm_app') THEN
                CREATE ROLE crm_app NOLOGIN;
            END IF;
        END $$;
        REVOKE CREATE ON SCHEMA public FROM PUBLIC;
        GRANT USAGE ON SCHEMA public TO crm_app;
        GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO crm_app;
        REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM crm_app;
        GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO crm_app;
        GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO crm_app;
        ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO crm_app;
        ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO crm_app;
        ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT EXECUTE ON FUNCTIONS TO crm_app;
        """
    )


def downgrade() -> None:
    op.execute(
        """
        ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM crm_app;
        ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM crm_app;
        ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON FUNCTIONS FROM crm_app;
        REVOKE ALL ON ALL TABLES IN SCHEMA public FROM crm_app;
        REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM crm_app;
        REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM crm_app;
        REVOKE USAGE ON SCHEMA public FROM crm_app;
        """
    )
