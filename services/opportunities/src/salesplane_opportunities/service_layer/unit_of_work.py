"""What the use cases need from storage, as protocols; the SQL adapters implement them."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import date, datetime
from types import TracebackType
from typing import Protocol, Self

from salesplane_opportunities.domain.exchange_rates import AppliedRate, CurrencyConverter, ExchangeRate
from salesplane_opportunities.domain.listing import OpportunityQuery
from salesplane_opportunities.domain.opportunity import Opportunity
from salesplane_opportunities.domain.sales_stages import SalesStage, SalesStageCatalog
from salesplane_opportunities.domain.stage_history import StageVisit
from salesplane_platform.identity import Identity


class OpportunityRepository(Protocol):
    def add(self, opportunity: Opportunity) -> None: ...

    def get(self, opportunity_id: str, *, for_update: bool = False) -> Opportunity | None:
        """`for_update` locks the row until commit, so concurrent writers queue instead of failing."""

    def save(self, opportunity: Opportunity, *, read_version: int) -> None:
        """Persist changes; raise Conflict if someone else saved since `read_version`."""

    def remove(self, opportunity: Opportunity, *, read_version: int) -> None:
        """Delete the row (and its stage history); raise Conflict as save() does."""

    def list(self, query: OpportunityQuery, caller: Identity) -> list[Opportunity]:
        """Up to page_size + 1 matching deals the caller may see, in order, after query.after."""

    def count_in_stages(self, stage_names: Sequence[str]) -> dict[str, int]:
        """Stage name -> number of deals in it, for the named stages that hold any."""

    # builtins.list: in the class body after list() above, `list` is that method.
    def open_following_stages(self, stage_names: Sequence[str]) -> builtins.list[Opportunity]:
        """Open deals in these stages whose probability follows the stage."""

    def in_currency_closing(self, currency: str, start: date, end: date | None) -> builtins.list[Opportunity]:
        """Deals in `currency` whose expected close date is in [start, end) (end None: open)."""

    def open_owned_by(self, owner_user_id: str, *, limit: int) -> builtins.list[Opportunity]:
        """Up to `limit` of the owner's open deals, locked until commit."""


class CreateRequestLog(Protocol):
    """Idempotency keys of CreateOpportunity: (caller, request id) -> the opportunity created."""

    def find(self, caller: str, request_id: str) -> str | None: ...

    def claim(self, caller: str, request_id: str, opportunity_id: str, at: datetime) -> bool:
        """Record the key; False if it was already taken (possibly by a concurrent call)."""


class SalesStageStore(Protocol):
    def current(self) -> SalesStageCatalog: ...

    def replace(self, stages: Sequence[SalesStage]) -> SalesStageCatalog:
        """Store the new list under the next revision and return it (it raises SalesStagesChanged)."""


class ExchangeRateStore(Protocol):
    def rate_on(self, currency: str, base_currency: str, on: date) -> AppliedRate | None: ...

    def list(self, base_currency: str, currency: str | None = None) -> list[ExchangeRate]:
        """By currency, then effective date."""

    def put(self, rate: ExchangeRate) -> None:
        """Insert, or replace the rate of the same currency and effective date; the events the rate
        raised are written on commit."""


class StageHistoryStore(Protocol):
    def visits(self, opportunity_id: str) -> list[StageVisit]:
        """Oldest first."""


class OpportunitiesUnitOfWork(Protocol):
    base_currency: str
    converter: CurrencyConverter

    # Read-only, so an implementation may hold its own (narrower) store types; the use cases
    # never replace a store.
    @property
    def opportunities(self) -> OpportunityRepository: ...

    @property
    def create_requests(self) -> CreateRequestLog: ...

    @property
    def sales_stages(self) -> SalesStageStore: ...

    @property
    def exchange_rates(self) -> ExchangeRateStore: ...

    @property
    def stage_history(self) -> StageHistoryStore: ...

    def acting_for(self, actor: str) -> Self:
        """Name who makes this transaction's changes; open a changing transaction with
        `with uow.acting_for(caller.subject):`."""

    def __enter__(self) -> Self: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    def hold_configuration(self, *, exclusive: bool) -> None:
        """Deal writes hold the configuration (stages, rates) shared, changes to it exclusively:
        a configuration change then sees every deal write committed before it, and no deal write
        uses the configuration it replaces. Call first in the transaction. Reading a deal for
        update holds the configuration shared as well, so changes of existing deals need not
        call this; creating one must."""

    def can_reach(self, caller: Identity, user_id: str) -> bool:
        """Own records; a manager's subtree; everything for admins."""

    def member_active(self, user_id: str) -> bool | None:
        """Whether the user is an active member of the organisation; None when unknown (yet)."""

    def commit(self) -> None:
        """Commit the changes together with the events of every aggregate the repositories handed
        out or were given (and the stage moves among them), so no use case publishes by hand."""
