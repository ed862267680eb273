"""Names and companies compare case-, accent- and punctuation-insensitively, companies also without
their legal form."""

from __future__ import annotations

import pytest

from salesplane_leads.domain.matching_keys import company_key, fold, person_key


def test_folding_ignores_case_accents_and_punctuation() -> None:
    assert fold("  Zoë  O'Brien-Smith ") == "zoe obrien smith"
    assert fold("STRAßE") == "strasse"


def test_a_person_key_combines_first_and_last_name() -> None:
    assert person_key("Zoë", "O\u2019Brien") == person_key("ZOE", "OBrien") == "zoe|obrien"


def test_first_and_last_name_are_not_interchangeable() -> None:
    assert person_key("Ada", "Lovelace") != person_key("Lovelace", "Ada")


def test_without_a_last_name_there_is_no_person_key() -> None:
    assert person_key("Ada", "") == ""


@pytest.mark.parametrize(
    "spelling",
    [
        "Acme",
        "ACME Inc.",
        "Acme, Inc",
        "acme incorporated",
        "Acme Ltd",
        "Acme Limited",
        "Acme GmbH",
        "Acme G.m.b.H.",
        "Acme GmbH & Co. KG",
        "The Acme Corporation",
        "Acme LLC",
        "Ácmé S.A.",
    ],
)
def test_company_spellings_with_legal_forms_share_one_key(spelling: str) -> None:
    assert company_key(spelling) == "acme"


def test_a_legal_form_alone_is_kept_rather_than_emptied() -> None:
    assert company_key("Limited") == "limited"
    assert company_key("The") == "the"


def test_legal_forms_are_only_stripped_from_the_end() -> None:
    assert company_key("Inc Magazine") == "inc magazine"


def test_different_companies_keep_different_keys() -> None:
    assert company_key("Acme Widgets") != company_key("Acme")
