"""The application factory."""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from . import auth, db, errors, observability, personal_ids, plugins, ratelimit
from .api import Api
from .audit import service as audit
from .audit.routes import blp as audit_blp
from .catalog.routes import admin_blp as catalog_admin_blp
from .catalog.routes import blp as catalog_blp
from .config import Settings
from .customers.routes import admin_blp as customers_admin_blp
from .customers.routes import blp as customers_blp
from .events.routes import admin_blp as events_admin_blp
from .events.routes import blp as events_blp
from .lookup.routes import blp as lookup_blp
from .loyalty.routes import admin_blp as loyalty_admin_blp
from .loyalty.routes import blp as loyalty_blp
from .ops.routes import blp as ops_blp
from .ops.routes import metrics_blp
from .program.routes import admin_blp as program_admin_blp
from .transactions.routes import admin_blp as transactions_admin_blp
from .transactions.routes import blp as transactions_blp
from .workshop.routes import admin_blp as workshop_admin_blp
from .workshop.routes import blp as workshop_blp

# One line per area: a fork adds its folder and its blueprint here.
BLUEPRINTS = [customers_blp, catalog_blp, catalog_admin_blp, customers_admin_blp, audit_blp, loyalty_blp,
              loyalty_admin_blp, transactions_blp, transactions_admin_blp, lookup_blp, events_blp, events_admin_blp,
              program_admin_blp, workshop_blp, workshop_admin_blp]

# Probes and metrics: for the platform, not the POS, so kept out of the OpenAPI document.
OPERATIONS = [ops_blp, metrics_blp]


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    app = Flask("crm_provider")
    app.config.update(
        CRM_SETTINGS=settings,
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        API_TITLE="crm-provider: Sitoo CRM SPI v2",
        API_VERSION="2",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL="/docs/assets/",  # served from the swagger-ui-bundle package (api.py)
    )
    app.json.sort_keys = False
    if settings.trusted_proxies:  # the client address (failed sign-ins, audit) as the proxies in front saw it
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies, x_proto=settings.trusted_proxies)

    errors.init_app(app)
    observability.init_app(app)  # first: its clock starts before auth, its log line sees the final status
    db.init_app(app, settings)
    plugins.init_app(app, settings)
    personal_ids.init_app(app, personal_ids.load(settings))
    api = Api(app)
    for blueprint in BLUEPRINTS:
        api.register_blueprint(blueprint)
    for blueprint in OPERATIONS:
        app.register_blueprint(blueprint)
    limits = ratelimit.Limits(settings)
    auth.init_app(
        app,
        scopes={blueprint.name: blueprint.scope for blueprint in BLUEPRINTS + OPERATIONS if blueprint.scope},
        credential_lists={"spi": settings.spi_users, "admin": settings.admin_users, "events": settings.events_users,
                          "metrics": settings.metrics_users, "shopmonkey": settings.shopmonkey_users},
        on_failure=limits.failed_sign_in,
    )
    limits.init_app(app)  # after auth: the rate limit is per credential
    app.after_request(audit.record_refusal)  # the audit row of a request refused before its unit of work
    return app
