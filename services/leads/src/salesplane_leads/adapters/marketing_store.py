"""Lead sources, campaigns (with their cost entries) and the scoring rules in SQL."""

from __future__ import annotations

import builtins
import json
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Row, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from salesplane_leads.adapters import tables
from salesplane_leads.adapters.seen_aggregates import SeenByUnitOfWork
from salesplane_leads.domain.marketing import Campaign, Channel, CostEntry, LeadSource, name_key
from salesplane_leads.domain.qualification import Authority, Need
from salesplane_leads.domain.scoring import ScoringCriterion, ScoringRule, ScoringRules
from salesplane_leads.service_layer.unit_of_work import AlreadyStored
from salesplane_platform.db import as_utc
from salesplane_platform.errors import Conflict
from salesplane_platform.money import Money

RULES_ROW_ID = "rules"


@contextmanager
def unique_insert(session: Session, what: str) -> Iterator[None]:
    """Run inserts in a savepoint, so a unique-key clash leaves the transaction usable and becomes
    AlreadyStored for the use case to handle."""
    try:
        with session.begin_nested():
            yield
    except IntegrityError as error:
        raise AlreadyStored(what) from error


class SqlLeadSourceRepository:
    """Notes every lead source it hands out or is given in `seen`, for the unit of work to collect
    their events on commit."""

    def __init__(self, session: Session, seen: SeenByUnitOfWork) -> None:
        self._session = session
        self._seen = seen

    def add(self, source: LeadSource) -> None:
        with unique_insert(self._session, f"lead source {source.name!r}"):
            self._session.execute(
                insert(tables.lead_sources).values(
                    id=source.id,
                    name=source.name,
                    name_key=name_key(source.name),
                    channel=source.channel.value,
                    version=source.version,
                    created_at=source.created_at,
                )
            )
        self._seen.add(source)

    def get(self, source_id: str) -> LeadSource | None:
        return self._one(tables.lead_sources.c.id == source_id)

    def get_by_name(self, name: str) -> LeadSource | None:
        return self._one(tables.lead_sources.c.name_key == name_key(name))

    def all(self) -> list[LeadSource]:
        rows = self._session.execute(select(tables.lead_sources).order_by(tables.lead_sources.c.name_key))
        sources = [_source(row) for row in rows]
        self._seen.add_all(sources)
        return sources

    def _one(self, condition: Any) -> LeadSource | None:
        row = self._session.execute(select(tables.lead_sources).where(condition)).one_or_none()
        if row is None:
            return None
        source = _source(row)
        self._seen.add(source)
        return source


def _source(row: Row[*tuple[Any, ...]]) -> LeadSource:
    return LeadSource(row.id, row.name, Channel(row.channel), row.version, as_utc(row.created_at))


class SqlCampaignRepository:
    """Notes every campaign it hands out or is given in `seen`, for the unit of work to collect
    their events on commit."""

    def __init__(self, session: Session, seen: SeenByUnitOfWork) -> None:
        self._session = session
        self._seen = seen

    def add(self, campaign: Campaign) -> None:
        with unique_insert(self._session, f"campaign {campaign.name!r}"):
            self._session.execute(insert(tables.campaigns).values(_campaign_values(campaign)))
            self._insert_costs(campaign.id, campaign.cost_entries)
        self._seen.add(campaign)

    def get(self, campaign_id: str) -> Campaign | None:
        found = self._load(tables.campaigns.c.id == campaign_id)
        return found[0] if found else None

    def get_by_name(self, name: str) -> Campaign | None:
        found = self._load(tables.campaigns.c.name_key == name_key(name))
        return found[0] if found else None

    def list(self, *, lead_source_id: str = "") -> list[Campaign]:
        condition = tables.campaigns.c.lead_source_id == lead_source_id if lead_source_id else None
        return self._load(condition)

    def save(self, campaign: Campaign, *, read_version: int) -> None:
        values = _campaign_values(campaign)
        del values["id"], values["created_at"], values["lead_source_id"]
        columns = tables.campaigns.c
        with unique_insert(self._session, f"campaign {campaign.name!r} or one of its cost entries"):
            # Session.execute promises only a Result; a Core UPDATE gives a CursorResult, with the rowcount.
            result = cast(
                CursorResult[*tuple[Any, ...]],
                self._session.execute(
                    update(tables.campaigns)
                    .where(columns.id == campaign.id, columns.version == read_version)
                    .values(values)
                ),
            )
            if result.rowcount != 1:
                raise Conflict(f"campaign {campaign.id} was changed concurrently; read it again and retry")
            stored = set(
                self._session.scalars(
                    select(tables.campaign_costs.c.id).where(
                        tables.campaign_costs.c.campaign_id == campaign.id
                    )
                )
            )
            self._insert_costs(campaign.id, [e for e in campaign.cost_entries if e.id not in stored])
        self._seen.add(campaign)

    def _insert_costs(self, campaign_id: str, entries: Any) -> None:
        rows = [
            {
                "id": entry.id,
                "campaign_id": campaign_id,
                "request_id": entry.request_id,
                "incurred_on": entry.incurred_on,
                "currency": entry.amount.currency,
                "amount_minor": entry.amount.amount_minor,
                "note": entry.note,
                "recorded_at": entry.recorded_at,
            }
            for entry in entries
        ]
        if rows:
            self._session.execute(insert(tables.campaign_costs), rows)

    # builtins.list: inside this class `list` names the method above.
    def _load(self, condition: Any) -> builtins.list[Campaign]:
        statement = select(tables.campaigns).order_by(tables.campaigns.c.name_key)
        if condition is not None:
            statement = statement.where(condition)
        rows = self._session.execute(statement).all()
        if not rows:
            return []
        costs = tables.campaign_costs
        entries: dict[str, list[CostEntry]] = defaultdict(list)
        for cost in self._session.execute(
            select(costs)
            .where(costs.c.campaign_id.in_([row.id for row in rows]))
            .order_by(costs.c.recorded_at, costs.c.id)
        ):
            entries[cost.campaign_id].append(
                CostEntry(
                    id=cost.id,
                    incurred_on=cost.incurred_on,
                    amount=Money(cost.currency, cost.amount_minor),
                    note=cost.note,
                    recorded_at=as_utc(cost.recorded_at),
                    request_id=cost.request_id,
                )
            )
        campaigns = [_campaign(row, tuple(entries[row.id])) for row in rows]
        self._seen.add_all(campaigns)
        return campaigns


def _campaign_values(campaign: Campaign) -> dict[str, object]:
    return {
        "id": campaign.id,
        "name": campaign.name,
        "name_key": name_key(campaign.name),
        "lead_source_id": campaign.lead_source_id,
        "channel": campaign.channel.value,
        "currency": campaign.currency,
        "budget_minor": campaign.budget.amount_minor,
        "expected_cost_minor": campaign.expected_cost.amount_minor if campaign.expected_cost else None,
        "expected_revenue_minor": (
            campaign.expected_revenue.amount_minor if campaign.expected_revenue else None
        ),
        "start_date": campaign.start_date,
        "end_date": campaign.end_date,
        "version": campaign.version,
        "created_at": campaign.created_at,
        "updated_at": campaign.updated_at,
    }


def _campaign(row: Row[*tuple[Any, ...]], entries: tuple[CostEntry, ...]) -> Campaign:
    def money(minor: int | None) -> Money | None:
        return None if minor is None else Money(row.currency, minor)

    return Campaign(
        id=row.id,
        name=row.name,
        lead_source_id=row.lead_source_id,
        channel=Channel(row.channel),
        budget=Money(row.currency, row.budget_minor),
        expected_cost=money(row.expected_cost_minor),
        expected_revenue=money(row.expected_revenue_minor),
        start_date=row.start_date,
        end_date=row.end_date,
        cost_entries=entries,
        version=row.version,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
    )


class SqlScoringRulesRepository:
    """Notes every rule set it hands out or is given in `seen`, for the unit of work to collect
    their events on commit."""

    def __init__(self, session: Session, seen: SeenByUnitOfWork) -> None:
        self._session = session
        self._seen = seen

    def get(self) -> ScoringRules:
        row = self._session.execute(
            select(tables.scoring_rule_sets).where(tables.scoring_rule_sets.c.id == RULES_ROW_ID)
        ).one_or_none()
        if row is None:  # the migration seeds the row; an empty set is the only sane fallback
            current = ScoringRules((), 0, datetime.fromtimestamp(0, UTC))
        else:
            rules = tuple(rule_from_json(rule) for rule in json.loads(row.rules))
            current = ScoringRules(rules, row.revision, as_utc(row.updated_at))
        self._seen.add(current)
        return current

    def save(self, rules: ScoringRules, *, read_revision: int) -> None:
        values = {
            "revision": rules.revision,
            "rules": json.dumps([rule_to_json(rule) for rule in rules.rules]),
            "updated_at": rules.updated_at,
        }
        sets = tables.scoring_rule_sets
        replaced_concurrently = Conflict(
            "the scoring rules were replaced concurrently; read them again and retry"
        )
        if read_revision == 0:
            try:
                with unique_insert(self._session, "scoring rules"):
                    self._session.execute(insert(sets).values(id=RULES_ROW_ID, **values))
            except AlreadyStored:
                raise replaced_concurrently from None
            self._seen.add(rules)
            return
        # Session.execute promises only a Result; a Core UPDATE gives a CursorResult, with the rowcount.
        result = cast(
            CursorResult[*tuple[Any, ...]],
            self._session.execute(
                update(sets).where(sets.c.id == RULES_ROW_ID, sets.c.revision == read_revision).values(values)
            ),
        )
        if result.rowcount != 1:
            raise replaced_concurrently
        self._seen.add(rules)


def rule_to_json(rule: ScoringRule) -> dict[str, object]:
    document: dict[str, object] = {
        "id": rule.id,
        "description": rule.description,
        "criterion": rule.criterion.value,
        "points": rule.points,
    }
    if rule.min_budget is not None:
        document["min_budget"] = {
            "currency": rule.min_budget.currency,
            "amount_minor": rule.min_budget.amount_minor,
        }
    if rule.authority is not Authority.UNKNOWN:
        document["authority"] = rule.authority.name
    if rule.need is not Need.UNKNOWN:
        document["need"] = rule.need.name
    if rule.within_days:
        document["within_days"] = rule.within_days
    if rule.lead_source_id:
        document["lead_source_id"] = rule.lead_source_id
    return document


def rule_from_json(document: dict[str, Any]) -> ScoringRule:
    budget = document.get("min_budget")
    return ScoringRule(
        id=document["id"],
        description=document.get("description", ""),
        criterion=ScoringCriterion(document["criterion"]),
        points=int(document["points"]),
        min_budget=Money(budget["currency"], int(budget["amount_minor"])) if budget else None,
        authority=Authority[document.get("authority", "UNKNOWN")],
        need=Need[document.get("need", "UNKNOWN")],
        within_days=int(document.get("within_days", 0)),
        lead_source_id=document.get("lead_source_id", ""),
    )
