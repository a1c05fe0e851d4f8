"""Extension points: small interfaces a retailer implements without forking the service.

- A **lookup provider** answers `GET /lookup_customers` from a database outside the CRM
  (`CRM_LOOKUP_PROVIDER`, one provider; none configured: the route answers 501).
- A **sections provider** adds sections to every customer the SPI returns, after the stored back-office
  sections (`CRM_SECTIONS_PROVIDERS`, comma-separated, shown in that order; SQL providers' first).
- A **customer hook** hears of every customer created, updated, merged or erased, after the commit, from the
  worker (`CRM_CUSTOMER_HOOKS`): at least once, with an event id (customers/hooks.py).
- A **redeem policy** may refuse a redeem for reasons of its own, answered as the contract's 409
  (`CRM_REDEEM_POLICIES`).
- An **earn rule** changes the points a purchase earns in the loyalty program (`CRM_EARN_RULES`).

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
    "program": "crm_provider.program.service:ProgramSections",
    "sitoo-service-orders": "crm_provider.workshop.service:ServiceOrderSections",
    "shopmonkey": "crm_provider.workshop.service:ShopmonkeySections",
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
    (customers/document.py), so it costs no round trip and no Python. `sections_sql` is a scalar subquery over
    the customer's row, `w` (`w.customer_id`), giving a JSON array of CustomerSection objects, or NULL for
    none. It takes no parameters, and a literal `%` is written `%%` (the read it joins has parameters). Its
    sections come before those of the other providers."""

    sections_sql: str


@runtime_checkable
class CustomerHook(Protocol):
    def customer_event(self, event: dict, **kwargs: Any) -> None:
        """`event` happened to a customer, and is committed: `{"event_id": "<uuid>", "kind": "created" |
        "updated" | "merged" | "erased", "customer_id": "<uuid>", "occurred_at": "<ISO 8601>"}` (a merge also
        names `merged_customer_id`, the customer merged away).

        Called by the worker, never on a request, at least once per event and hook: after a failure (an
        exception) it is called again with the same event, with back-off, so make it idempotent by
        `event_id`. The events of one customer come in the order they happened. kwargs today: `customer`
        (the customer as the SPI shows it now; None once erased), `settings`. Never log personal data.
        """
        ...


@runtime_checkable
class RedeemPolicy(Protocol):
    def refusals(self, conn: Connection, *, customer_id: Any, bonus_checks: list[str], promotions: list[str],
                 **kwargs: Any) -> list[str]:
        """Reasons to refuse this redeem, each a short text without personal data (`"staff cannot redeem at
        their home store"`); none: no objection. Asked once the CRM's own rules allow the redeem, inside its
        transaction, with the customer locked: read with `conn`, never write or commit. Any reason refuses
        the whole redeem with the contract's 409 (`Can't redeem items: <reasons>`).

        kwargs today: `store_id`, `staff_id`, `register_id` (the till's tracing headers, decoded; None when not
        sent), `settings`. What it raises is the response's error.
        """
        ...


@runtime_checkable
class EarnRule(Protocol):
    def earn(self, purchase: dict, points: int, **kwargs: Any) -> int:
        """The points `purchase` earns once this rule has had its say, given `points`, what it earns before
        it (the program's own rules, then the earn rules configured before this one). Return `points` when the
        rule does not apply.

        `purchase` is the transaction as the SPI shows it (contract `Transaction`). A purchase is judged again
        when it changes or is refunded, so the answer must depend on the purchase and the kwargs only.
        kwargs today: `customer` (the customer as the SPI shows it), `settings`. The loyalty program calls
        the rules; what it makes of their answers (rounding, reversals) is its own.
        """
        ...


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
    redeem_policies: tuple[RedeemPolicy, ...] = ()
    earn_rules: tuple[EarnRule, ...] = ()
    customer_hooks: tuple[str, ...] = ()  # names only: the worker calls them (customers/hooks.py)
    settings: Settings | None = None


def load(settings: Settings) -> Plugins:
    """Every provider, policy and rule `settings` names, resolved (a name that does not resolve raises)."""
    providers = [resolve(name, (SqlSectionsProvider, SectionsProvider)) for name in settings.sections_providers]
    return Plugins(
        lookup=resolve(settings.lookup_provider, LookupProvider) if settings.lookup_provider else None,
        sections=tuple(p for p in providers if not isinstance(p, SqlSectionsProvider)),
        sections_sql=tuple(p.sections_sql for p in providers if isinstance(p, SqlSectionsProvider)),
        redeem_policies=tuple(resolve(name, RedeemPolicy) for name in settings.redeem_policies),
        earn_rules=tuple(resolve(name, EarnRule) for name in settings.earn_rules),
        customer_hooks=settings.customer_hooks,
        settings=settings,
    )


def customer_hooks(settings: Settings) -> dict[str, CustomerHook]:
    """The customer hooks `settings` names, by name (the worker delivers to each; the web only needs to know
    whether there are any)."""
    return {name: resolve(name, CustomerHook) for name in settings.customer_hooks}


def init_app(app: Flask, settings: Settings) -> None:
    app.extensions["crm_plugins"] = load(settings)
    customer_hooks(settings)  # resolved here too, so that a name that does not resolve stops the start-up


_PROCESS = Plugins()  # outside an app: what `use` set (the worker's), else none (the CLI answers no POS)


def use(plugins: Plugins) -> None:
    """The plugins of a process that serves no app: the worker, whose order processing books points under the
    configured earn rules and records customer events for the configured hooks."""
    global _PROCESS
    _PROCESS = plugins


def active() -> Plugins:
    """The current app's providers, or outside an app the process's (`use`)."""
    if not has_app_context():
        return _PROCESS
    return current_app.extensions.get("crm_plugins") or Plugins()


def redeem_refusals(conn: Connection, **context: Any) -> list[str]:
    """What the configured redeem policies object to (RedeemPolicy); nothing when there are none."""
    plugins = active()
    return [reason for policy in plugins.redeem_policies
            for reason in policy.refusals(conn, **context, settings=plugins.settings)]


def extra_sections(conn: Connection, customer: dict) -> list[dict]:
    """What the configured sections providers add for `customer`; no work at all when there are none."""
    plugins = active()
    if not plugins.sections:
        return []
    return [section for provider in plugins.sections
            for section in provider.sections(conn, customer, settings=plugins.settings)]
