"""What admins change about retention: the policy and a tip's legal hold. Both are audited."""

from __future__ import annotations

from django.db import transaction

from tipline.audit import Action, Actor, audit_record
from tipline.models import RetentionPolicy, Tip


def _policy_numbers(policy: RetentionPolicy) -> dict[str, int]:
    return {"default": policy.default_days, **dict(sorted(policy.status_days.items()))}


@transaction.atomic
def retention_policy_set(*, default_days: int, status_days: dict[str, int], actor: Actor) -> bool:
    """Save the policy; audited with the old and new numbers. False if nothing changed."""
    policy = RetentionPolicy.objects.select_for_update().get(pk=RetentionPolicy.current().pk)
    before = _policy_numbers(policy)
    policy.default_days = default_days
    policy.status_days = dict(sorted(status_days.items()))
    after = _policy_numbers(policy)
    if before == after:
        return False
    policy.save(update_fields=["default_days", "status_days"])
    audit_record(actor=actor, action=Action.RETENTION_CHANGED, detail={"from": before, "to": after})
    return True


@transaction.atomic
def tip_legal_hold_set(*, tip: Tip, hold: bool, actor: Actor) -> bool:
    """Set or lift the hold; audited. False if it was already so."""
    changed = Tip.objects.filter(pk=tip.pk, legal_hold=not hold).update(legal_hold=hold)
    tip.legal_hold = hold
    if changed:
        action = Action.LEGAL_HOLD_SET if hold else Action.LEGAL_HOLD_LIFTED
        audit_record(actor=actor, action=action, tip_reference=tip.reference)
    return bool(changed)
