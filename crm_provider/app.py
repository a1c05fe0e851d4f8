"""The application factory."""

from __future__ import annotations

from flask import Flask

from . import audit, auth, db, errors
from .admin.routes import blp as admin_blp
from .api import Api
from .catalog.routes import blp as catalog_blp
from .config import Settings
from .customers.routes import blp as customers_blp

# One line per area: a fork adds its folder and its blueprint here.
BLUEPRINTS = [customers_blp, catalog_blp, admin_blp]


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
    )
    app.json.sort_keys = False

    errors.init_app(app)
    db.init_app(app, settings)
    api = Api(app)
    for blueprint in BLUEPRINTS:
        api.register_blueprint(blueprint)
    auth.init_app(
        app,
        scopes={blueprint.name: blueprint.scope for blueprint in BLUEPRINTS if blueprint.scope},
        credential_lists={"spi": settings.spi_users, "admin": settings.admin_users},
    )
    audit.init_app(app)
    return app
