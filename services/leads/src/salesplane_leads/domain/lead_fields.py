"""The writable fields of a lead (shared by create, update, import and merge) and their rules."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace

from salesplane_leads.domain.contact import (
    MAX_EMAIL_LENGTH,
    MAX_PHONE_LENGTH,
    MAX_WEBSITE_LENGTH,
    is_plausible_email,
    is_plausible_phone,
    is_plausible_website,
    normalise_email,
)
from salesplane_leads.domain.country_codes import is_country_code
from salesplane_platform.errors import Validator
from salesplane_platform.identifiers import is_uuid
from salesplane_platform.text_rules import check_text

MAX_NAME_LENGTH = 100
MAX_COMPANY_LENGTH = 255
MAX_TITLE_LENGTH = 128
MAX_STREET_LENGTH = 255
MAX_CITY_LENGTH = 100
MAX_REGION_LENGTH = 100
MAX_POSTAL_CODE_LENGTH = 20
MAX_DESCRIPTION_LENGTH = 4000


@dataclass(frozen=True)
class Address:
    street: str = ""
    city: str = ""
    region: str = ""
    postal_code: str = ""
    # ISO 3166-1 alpha-2, upper case.
    country_code: str = ""

    def is_empty(self) -> bool:
        return self == Address()


@dataclass(frozen=True)
class LeadFields:
    """Empty strings mean 'not given'."""

    first_name: str = ""
    last_name: str = ""
    company: str = ""
    email: str = ""
    phone: str = ""
    title: str = ""
    website: str = ""
    address: Address = Address()
    description: str = ""
    lead_source_id: str = ""
    campaign_id: str = ""

    def cleaned(self) -> LeadFields:
        """Surrounding white space trimmed, the e-mail lower-cased, the country code upper-cased."""
        address = self.address
        return LeadFields(
            first_name=self.first_name.strip(),
            last_name=self.last_name.strip(),
            company=self.company.strip(),
            email=normalise_email(self.email),
            phone=self.phone.strip(),
            title=self.title.strip(),
            website=self.website.strip(),
            address=Address(
                street=address.street.strip(),
                city=address.city.strip(),
                region=address.region.strip(),
                postal_code=address.postal_code.strip(),
                country_code=address.country_code.strip().upper(),
            ),
            description=self.description.strip(),
            lead_source_id=self.lead_source_id.strip(),
            campaign_id=self.campaign_id.strip(),
        )

    def with_changes(self, changes: Mapping[str, str]) -> LeadFields:
        """Apply values by path ("company", "address.city"); paths come from EDITABLE_PATHS."""
        top = {path: value for path, value in changes.items() if not path.startswith("address.")}
        in_address = {
            path.removeprefix("address."): value
            for path, value in changes.items()
            if path.startswith("address.")
        }
        return replace(self, **top, address=replace(self.address, **in_address))

    def filled_from(self, other: LeadFields) -> LeadFields:
        """Empty fields taken from `other`. The address goes as a whole (half of one address and
        half of another would be nobody's), a campaign only with its lead source."""
        values = {
            name: getattr(other, name)
            for name in _PLAIN_FIELDS
            if not getattr(self, name) and getattr(other, name)
        }
        if self.address.is_empty() and not other.address.is_empty():
            values["address"] = other.address
        if not self.lead_source_id and other.lead_source_id:
            values["lead_source_id"] = other.lead_source_id
            values["campaign_id"] = other.campaign_id
        elif not self.campaign_id and other.campaign_id and other.lead_source_id == self.lead_source_id:
            values["campaign_id"] = other.campaign_id
        return replace(self, **values)


_PLAIN_FIELDS = ("first_name", "last_name", "company", "email", "phone", "title", "website", "description")
ADDRESS_PATHS = tuple(f"address.{f.name}" for f in fields(Address))
# What UpdateLead may change; "address" stands for all of ADDRESS_PATHS.
EDITABLE_PATHS = frozenset({*_PLAIN_FIELDS, "address", *ADDRESS_PATHS, "lead_source_id", "campaign_id"})


def check_lead_fields(check: Validator, lead: LeadFields, *, prefix: str = "") -> None:
    """Report every violation of already cleaned fields, as prefix + field path."""
    check_text(check, f"{prefix}first_name", lead.first_name, MAX_NAME_LENGTH)
    check_text(check, f"{prefix}last_name", lead.last_name, MAX_NAME_LENGTH, required=True)
    check_text(check, f"{prefix}company", lead.company, MAX_COMPANY_LENGTH)
    if lead.email:
        check.require(
            is_plausible_email(lead.email),
            f"{prefix}email",
            f"must be an e-mail address like name@example.com (at most {MAX_EMAIL_LENGTH} characters)",
        )
    if lead.phone:
        check.require(
            is_plausible_phone(lead.phone),
            f"{prefix}phone",
            "must be 6 to 20 digits with an optional leading + and spaces, ( ) - . between them"
            f" (at most {MAX_PHONE_LENGTH} characters)",
        )
    check_text(check, f"{prefix}title", lead.title, MAX_TITLE_LENGTH)
    if lead.website:
        check.require(
            is_plausible_website(lead.website),
            f"{prefix}website",
            f"must be a web address like example.com or https://www.example.com/"
            f" (at most {MAX_WEBSITE_LENGTH} characters)",
        )
    address = lead.address
    check_text(check, f"{prefix}address.street", address.street, MAX_STREET_LENGTH)
    check_text(check, f"{prefix}address.city", address.city, MAX_CITY_LENGTH)
    check_text(check, f"{prefix}address.region", address.region, MAX_REGION_LENGTH)
    check_text(check, f"{prefix}address.postal_code", address.postal_code, MAX_POSTAL_CODE_LENGTH)
    if address.country_code:
        check.require(
            is_country_code(address.country_code),
            f"{prefix}address.country_code",
            "must be an ISO 3166-1 alpha-2 country code like DE or US",
        )
    check_text(check, f"{prefix}description", lead.description, MAX_DESCRIPTION_LENGTH, multiline=True)
    if lead.lead_source_id:
        check.require(is_uuid(lead.lead_source_id), f"{prefix}lead_source_id", "must be a UUID")
    if lead.campaign_id:
        check.require(is_uuid(lead.campaign_id), f"{prefix}campaign_id", "must be a UUID")
