"""Loyalty routes: redeem and undo at the till (SPI), granting and withdrawing items in the back office (admin)."""

from __future__ import annotations

from flask.views import MethodView

from ..api import ADMIN_ERRORS, SPI_ERRORS, Blueprint
from ..audit.service import trace
from ..keys import customer_uuid
from ..audit.work import unit_of_work
from . import service
from .schemas import (ITEM_ID_MAX_LENGTH, ConflictQuerySchema, ConflictSchema, GrantedBonusCheckSchema,
                      GrantedPromotionSchema, RedeemSchema)

blp = Blueprint("loyalty", __name__, scope="spi", description="Redeem bonus checks and promotions, and undo a redeem.")
admin_blp = Blueprint("loyalty_admin", __name__, scope="admin", url_prefix="/admin",
                      description="Back office: grant and withdraw promotions and bonus checks; the orders' item conflicts.")


@blp.route("/customers/<customer_id>/redeem")
class Redeem(MethodView):
    @blp.arguments(RedeemSchema)
    @blp.response(200, RedeemSchema, description="A redeem object where all items in it were successfully redeemed "
                                                 "and with the `redeem_id` property set with the value used to undo "
                                                 "a redeem.")
    @blp.documents(*SPI_ERRORS, 409, texts={409: "Can't redeem items."})
    def post(self, data, customer_id):
        """Redeem Items

        Redeem bonus checks or promotions: all listed items, or none. 409 (`Can't redeem items: ...` with the
        reasons) when an item is unknown, belongs to another customer, is redeemed already, has been used by
        a purchase, is outside its validity window, or is listed twice.
        """
        cid = customer_uuid(customer_id)
        with unit_of_work(customer_id=cid) as work:
            redeemed = service.redeem(work.conn, cid, data["bonus_checks"], data["promotions"], context=trace())
            work.note(redeem_id=redeemed["redeem_id"])
        return redeemed


@blp.route("/customers/<customer_id>/redeem/<redeem_id>")
class UndoRedeem(MethodView):
    @blp.response(200, RedeemSchema, description="Successfully undone previously redeemed items. The body is the "
                                                 "redeem that was undone.")
    @blp.documents(*SPI_ERRORS, 409, texts={409: "Can't undo redeem."})
    def delete(self, customer_id, redeem_id):
        """Undo Redeem Items

        Give back every item of a redeem (`redeemed` false, no `date_redeemed`). 409 (`Can't undo redeem: ...`)
        when it was undone already or a purchase has used one of its items since.
        """
        cid = customer_uuid(customer_id)
        with unit_of_work(customer_id=cid) as work:
            work.note(redeem_id=redeem_id[:64])
            return service.undo(work.conn, cid, redeem_id)


# --- the back office ------------------------------------------------------------------------------------------

@admin_blp.route("/customers/<customer_id>/promotions")
class Promotions(MethodView):
    @admin_blp.arguments(GrantedPromotionSchema)
    @admin_blp.response(201, GrantedPromotionSchema)
    @admin_blp.documents(*ADMIN_ERRORS)
    def post(self, data, customer_id):
        """Grant a promotion

        The id is taken from the body when given (one the customer holds already, unused, is replaced),
        otherwise created. An optional validity window limits when the POS sees and can redeem it.
        """
        cid = customer_uuid(customer_id)
        with unit_of_work(customer_id=cid, status=201) as work:
            promotion = service.grant(work.conn, "promotion", cid, data)
            work.note(promotion_id=promotion["promotion_id"])
        return promotion


@admin_blp.route("/customers/<customer_id>/promotions/<promotion_id>")
class Promotion(MethodView):
    @admin_blp.response(204)
    @admin_blp.documents(*ADMIN_ERRORS)
    def delete(self, customer_id, promotion_id):
        """Withdraw a promotion

        Only an unused one: a redeemed promotion stays while its redeem can be undone (400).
        """
        cid = customer_uuid(customer_id)
        with unit_of_work(customer_id=cid, status=204) as work:
            work.note(promotion_id=promotion_id[:ITEM_ID_MAX_LENGTH])
            service.withdraw(work.conn, "promotion", cid, promotion_id)


@admin_blp.route("/customers/<customer_id>/bonus-checks")
class BonusChecks(MethodView):
    @admin_blp.arguments(GrantedBonusCheckSchema)
    @admin_blp.response(201, GrantedBonusCheckSchema)
    @admin_blp.documents(*ADMIN_ERRORS)
    def post(self, data, customer_id):
        """Grant a bonus check

        The id is taken from the body when given (one the customer holds already, unused, is replaced),
        otherwise created. An optional validity window limits when the POS sees and can redeem it.
        """
        cid = customer_uuid(customer_id)
        with unit_of_work(customer_id=cid, status=201) as work:
            bonus_check = service.grant(work.conn, "bonus_check", cid, data)
            work.note(bonus_check_id=bonus_check["bonus_check_id"])
        return bonus_check


@admin_blp.route("/customers/<customer_id>/bonus-checks/<bonus_check_id>")
class BonusCheck(MethodView):
    @admin_blp.response(204)
    @admin_blp.documents(*ADMIN_ERRORS)
    def delete(self, customer_id, bonus_check_id):
        """Withdraw a bonus check

        Only an unused one: a redeemed bonus check stays while its redeem can be undone (400).
        """
        cid = customer_uuid(customer_id)
        with unit_of_work(customer_id=cid, status=204) as work:
            work.note(bonus_check_id=bonus_check_id[:ITEM_ID_MAX_LENGTH])
            service.withdraw(work.conn, "bonus_check", cid, bonus_check_id)


@admin_blp.route("/item-conflicts")
class ItemConflicts(MethodView):
    @admin_blp.arguments(ConflictQuerySchema, location="query")
    @admin_blp.response(200, ConflictSchema(many=True))
    @admin_blp.documents(*ADMIN_ERRORS)
    def get(self, args):
        """Orders naming a bonus check or promotion they could not consume, newest first

        A purchase from Sitoo names the items it used (`crm-bonuscheckid`, `crm-promotionid`). One that
        another purchase consumed already (redeemed, undone and redeemed again for a second purchase: both got
        the discount), another customer's, or one no customer holds is kept here, one row per order and item,
        as the order has it now, and counted in the `crm_item_conflicts` gauge.
        """
        with unit_of_work() as work:
            return service.conflicts(work.conn, args.get("reason"), args.get("before"), args["limit"])
