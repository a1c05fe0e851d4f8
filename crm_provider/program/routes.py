"""Loyalty program routes (admin): the program document and its versions, a customer's points, manual
adjustments, and the liability report."""

from __future__ import annotations

from datetime import datetime, timezone

from flask import g
from flask.views import MethodView

from ..api import ADMIN_ERRORS, Blueprint
from ..audit.work import unit_of_work
from ..errors import NotFound
from ..keys import customer_uuid
from . import service
from .schemas import (AdjustmentSchema, BalanceSchema, LedgerQuerySchema, LedgerSchema, LiabilityQuerySchema,
                      LiabilitySchema, ProgramSchema, ProgramVersionSchema)

admin_blp = Blueprint("program_admin", __name__, scope="admin", url_prefix="/admin",
                      description="Back office: the loyalty program, customers' points, the liability report.")


@admin_blp.route("/program")
class Program(MethodView):
    @admin_blp.response(200, ProgramVersionSchema)
    @admin_blp.documents(*ADMIN_ERRORS)
    def get(self):
        """The program in force

        404 while no program has been set.
        """
        with unit_of_work() as work:
            current = service.program(work.conn)
        if current is None:
            raise NotFound("No loyalty program has been set")
        return current

    @admin_blp.arguments(ProgramSchema)
    @admin_blp.response(200, ProgramVersionSchema)
    @admin_blp.documents(*ADMIN_ERRORS)
    def put(self, document):
        """Set the program

        A new version, in force from now; purchases keep the version in force at their order date.
        """
        with unit_of_work() as work:
            version = service.set_program(work.conn, document, g.credential)
            work.note(program_version=version["version"])
        return version


@admin_blp.route("/program/versions")
class ProgramVersions(MethodView):
    @admin_blp.response(200, ProgramVersionSchema(many=True))
    @admin_blp.documents(*ADMIN_ERRORS)
    def get(self):
        """Every version of the program, newest first"""
        with unit_of_work() as work:
            return service.versions(work.conn, 1000)


@admin_blp.route("/program/liability")
class Liability(MethodView):
    @admin_blp.arguments(LiabilityQuerySchema, location="query")
    @admin_blp.response(200, LiabilitySchema)
    @admin_blp.documents(*ADMIN_ERRORS)
    def get(self, args):
        """The liability report

        Points outstanding and the program's bonus checks outstanding (count and value) at a time, and the
        points earned, converted, expired and reversed per month up to it.
        """
        with unit_of_work() as work:
            return service.liability(work.conn, args.get("at") or datetime.now(timezone.utc))


@admin_blp.route("/customers/<customer_id>/points")
class Points(MethodView):
    @admin_blp.arguments(LedgerQuerySchema, location="query")
    @admin_blp.response(200, LedgerSchema)
    @admin_blp.documents(*ADMIN_ERRORS)
    def get(self, args, customer_id):
        """A customer's points: balance, tier and ledger, newest first (paged by `before`)"""
        cid = customer_uuid(customer_id)
        with unit_of_work(customer_id=cid) as work:
            return service.ledger(work.conn, cid, args["limit"], args.get("before"))

    @admin_blp.arguments(AdjustmentSchema)
    @admin_blp.response(201, BalanceSchema)
    @admin_blp.documents(*ADMIN_ERRORS)
    def post(self, data, customer_id):
        """Adjust a customer's points by hand

        With a reason; audited with who did it. Refused when it would take the balance below zero.
        """
        cid = customer_uuid(customer_id)
        with unit_of_work(customer_id=cid, status=201) as work:
            work.note(points=data["points"])
            return service.adjust(work.conn, cid, data["points"], data["reason"], g.credential)
