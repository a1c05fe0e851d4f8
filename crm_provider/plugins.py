"""Extension points: small interfaces a retailer implements without forking the service.

- A **lookup provider** answers `GET /lookup_customers` from a database outside the CRM
  (`CRM_LOOKUP_PROVIDER`, one provider; none configured: the route answers 501).
- A **sections provider** adds sections to every customer the SPI returns, after the stored back-office
  sections (`CRM_SECTIONS_PROVIDERS`, comma-separated, shown in that order; SQL providers' first).

A provider is named in configuration by a built-in name (`BUILTIN`), by the name of an entry point in the
group `crm_provider.plugins` (so an installed package can offer one), or by a dotted path
(`package.module:attr` or `package.module.attr`). The object found is used as it is when it has the
provider's method (an instance, or a module with a function of that name); a class is instantiated once,
without arguments. Names are resolved when the app is created, so a name that does not resolve stops the
start-up instead of failing requests.

Methods take `**kwargs` so that the service can pass more context later without breaking a provider.
How to write one, with an example: docs/plugins.md.
"""

from __future__ import annotations

import inspect
import pkgutil
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Protocol, runtime_checkable

from flask import Flask, current_app, has_app_context
from psycopg import Connection

from .config import Settings

ENTRY_POINT_GROUP = "crm_provider.plugins"
BUILTIN = {
    "registry": "crm_provider.lookup.service:RegistryProvider",
    "purchases": "crm_provider.transactions.service:PurchasesSections",
}


@runtime_checkable
class LookupProvider(Protocol):
    def lookup(self, conn: Connection, key_type: str, key: str, **kwargs: Any) -> list[dict]:
        """People known by `key` (a SearchKeyType and the key as the POS sent it), as contract Customer
        objects without `customer_id`: one, or none.

        `conn` is the request's connection (the request is the unit of work: do not commit). kwargs today:
        `region` (the default phone region), `settings`. Raise `errors.BadGateway` / `errors.GatewayTimeout`
        when a service behind the provider fails or is too slow; anything else raised is answered 502.
        """
        ...


@runtime_checkable
class SectionsProvider(Protocol):
    def sections(self, conn: Connection, customer: dict, **kwargs: Any) -> list[dict]:
        """Contract CustomerSection objects to show for `customer` (the customer as the SPI returns it,
        with `customer_id`), possibly none.

        Called for every customer in every SPI response: keep it to one cheap query. kwargs today:
        `settings`. What it raises is the response's error (a provider that prefers to degrade catches its
        own failures and returns []).
        """
        ...


@runtime_checkable
class SqlSectionsProvider(Protocol):
    """A sections provider that is a query: PostgreSQL builds its sections inside the customer's own read
    (customers/store.py), so it costs no round trip and no Python. `sections_sql` is a scalar subquery over
    the customer's row, `w` (`w.customer_id`), giving a JSON array of CustomerSection objects, or NULL for
    none. It takes no parameters, and a literal `%` is written `%%` (the read it joins has parameters). Its
    sections come before those of the other providers."""

    sections_sql: str


def resolve(name: str, interface: type | tuple[type, ...]) -> Any:
    """The provider `name` stands for, checked against `interface`."""
    target = BUILTIN.get(name)
    found = None
    if target is None:
        matches = entry_points(group=ENTRY_POINT_GROUP, name=name)
        if matches:
            found = next(iter(matches)).load()
        elif "." in name or ":" in name:
            target = name
        else:
            raise ValueError(f"unknown provider {name!r}: not built in ({', '.join(BUILTIN)}), "
                             f"no entry point in {ENTRY_POINT_GROUP}, and not a dotted path")
    if found is None:
        found = pkgutil.resolve_name(target)
    if inspect.isclass(found):
        found = found()
    if not isinstance(found, interface):
        names = " or ".join(kind.__name__ for kind in (interface if isinstance(interface, tuple) else (interface,)))
        raise TypeError(f"provider {name!r} does not implement {names}")
    return found


@dataclass(frozen=True)
class Plugins:
    """The providers of one app, resolved once."""

    lookup: LookupProvider | None = None
    sections: tuple[SectionsProvider, ...] = ()
    sections_sql: tuple[str, ...] = ()  # of the SqlSectionsProviders
    settings: Settings | None = None


def init_app(app: Flask, settings: Settings) -> None:
    providers = [resolve(name, (SqlSectionsProvider, SectionsProvider)) for name in settings.sections_providers]
    app.extensions["crm_plugins"] = Plugins(
        lookup=resolve(settings.lookup_provider, LookupProvider) if settings.lookup_provider else None,
        sections=tuple(p for p in providers if not isinstance(p, SqlSectionsProvider)),
        sections_sql=tuple(p.sections_sql for p in providers if isinstance(p, SqlSectionsProvider)),
        settings=settings,
    )


def active() -> Plugins:
    """The current app's providers; none outside a request (the CLI answers no POS)."""
    if not has_app_context():
        return Plugins()
    return current_app.extensions.get("crm_plugins") or Plugins()


def extra_sections(conn: Connection, customer: dict) -> list[dict]:
    """What the configured sections providers add for `customer`; no work at all when there are none."""
    plugins = active()
    if not plugins.sections:
        return []
    return [section for provider in plugins.sections
            for section in provider.sections(conn, customer, settings=plugins.settings)]
