"""The counter's one search box: typo-tolerant, numbers first, balances from the registry."""

from decimal import Decimal

import pytest
from django.urls import reverse

from cashiering.models import ARInvoice, UtilityAccount
from cashiering.payables import invoice_index_rows, utility_index_rows
from cashiering.selectors.payers import payer_index_search, payer_search
from cashiering.targets import IndexRow, index_bulk_upsert
from cashiering.validators import CARD_NUMBER_MESSAGE

D = Decimal

PEOPLE = [
    ("100007-23", "John Smith", "1234 James St, Kent WA 98032", "84.50"),
    ("100014-05", "Mary Garcia", "88 Meeker St, Kent WA 98030", "120.00"),
    ("100021-77", "Jose Smithers", "17 Smith St, Kent WA 98031", "40.00"),
    ("100028-12", "Linda Johnson", "501 Reith Rd, Kent WA 98030", "-12.25"),
    ("200035-40", "Kent Lanes", "20 Central Ave N, Kent WA 98032", "300.00"),
    ("200042-18", "Joan Jones", "9 Smith St, Kent WA 98031", "55.00"),
]


@pytest.fixture
def index(chart):
    accounts = [
        UtilityAccount.objects.create(
            number=number, name=name, service_address=address, balance=D(balance)
        )
        for number, name, address, balance in PEOPLE
    ]
    invoices = [
        ARInvoice.objects.create(
            number=number,
            customer_name=name,
            customer_address="400 W Valley Hwy, Kent WA 98032",
            description="Facility rental",
            amount=D("150.00"),
            amount_due=D(due),
        )
        for number, name, due in [
            ("INV-24001", "Valley Auto Body", "150.00"),
            ("INV-240015", "Green River Dental", "75.00"),
        ]
    ]
    index_bulk_upsert(utility_index_rows(accounts))
    index_bulk_upsert(invoice_index_rows(invoices))
    return {a.number: a for a in accounts}


def numbers(hits):
    return [hit.number for hit in hits]


def test_typos_still_find_the_payer(index):
    # Every misspelt word must be like a word of the name: Joan Jones, who lives on
    # Smith St, is not "Jon Smth".
    found = numbers(payer_search("Jon Smth"))
    assert found[0] == "100007-23"
    assert "200042-18" not in found
    assert numbers(payer_search("mary garsia"))[0] == "100014-05"
    assert numbers(payer_search("Linda Jonson"))[0] == "100028-12"
    # A misspelt name with a number typed exactly: the number must match.
    assert numbers(payer_search("jon smth 98032")) == ["100007-23"]
    assert numbers(payer_search("jon smth 98030")) == []


def test_two_letters_typed_the_wrong_way_round_still_find_a_short_name(index):
    short = [
        UtilityAccount.objects.create(number=n, name=name, service_address=a, balance=D("10.00"))
        for n, name, a in [
            ("300001-01", "Wei Lee", "12 Alder Ln, Kent WA 98030"),
            ("300002-02", "Anna King", "40 Pine St, Kent WA 98031"),
            ("300003-03", "Tom Hill", "77 Cedar Ave, Kent WA 98032"),
        ]
    ]
    index_bulk_upsert(utility_index_rows(short))
    # Trigrams forgive nothing in a short name whose letters are swapped, and the first
    # two letters are where the search begins: these found nobody before.
    assert numbers(payer_search("ikng")) == ["300002-02"]
    assert numbers(payer_search("anna kign")) == ["300002-02"]
    assert numbers(payer_search("hlil"))[0] == "300003-03"
    assert numbers(payer_search("wei ele")) == ["300001-01"]
    # Every word must still match: a swapped name with the wrong first name is nobody.
    assert numbers(payer_search("mary ikng")) == []


def test_exact_words_rank_the_name_match_first(index):
    hits = numbers(payer_search("smith"))
    # John Smith and Jose Smithers by name, then Joan Jones who lives on Smith St.
    assert set(hits[:2]) == {"100007-23", "100021-77"}
    assert hits[2:] == ["200042-18"]
    assert numbers(payer_search("john smith"))[0] == "100007-23"


def test_number_prefix_and_exact_number_come_first(index):
    assert numbers(payer_search("1000"))[:4] == ["100007-23", "100014-05", "100021-77", "100028-12"]
    # Typed in lower case; the exact number ranks before the longer one it prefixes.
    assert numbers(payer_search("inv-24001"))[:2] == ["INV-24001", "INV-240015"]
    assert numbers(payer_search("INV-24001"))[0] == "INV-24001"


def test_exact_number_ranks_before_a_name_that_contains_it(index, chart):
    holdings = UtilityAccount.objects.create(
        number="300001-01", name="INV-24001 Holdings", service_address="1 Main", balance=D(1)
    )
    index_bulk_upsert(utility_index_rows([holdings]))
    assert numbers(payer_search("INV-24001")) == ["INV-24001", "INV-240015", "300001-01"]


def test_address_search(index):
    assert numbers(payer_search("meeker st")) == ["100014-05"]
    assert numbers(payer_search("501 reith")) == ["100028-12"]


def test_results_carry_kind_and_amount_due(index):
    hits = {hit.number: hit for hit in payer_search("kent")}
    lanes = hits["200035-40"]
    assert (lanes.kind, lanes.kind_label, lanes.name) == (
        "utility",
        "Utility account",
        "Kent Lanes",
    )
    assert lanes.amount_due == D("300.00")
    credit = hits["100028-12"]
    assert credit.amount_due == D("0.00") and credit.has_credit
    invoice = payer_search("INV-240015")[0]
    assert (invoice.kind_label, invoice.amount_due) == ("AR invoice", D("75.00"))


def test_fee_items_are_found_with_their_price(chart):
    hit = payer_search("pet license")[0]
    assert (hit.kind, hit.ref, hit.amount_due, hit.default_amount) == (
        "fee",
        "PET",
        None,
        D("30.00"),
    )
    assert hit.priced_by_quantity


def test_inactive_rows_are_left_out(index):
    index_bulk_upsert(
        [
            IndexRow(
                kind="utility",
                ref="100007-23",
                number="100007-23",
                name="John Smith",
                is_active=False,
            )
        ]
    )
    assert "100007-23" not in numbers(payer_search("john smith"))
    assert "100007-23" not in numbers(payer_search("100007-23"))


def test_at_most_limit_results(chart):
    accounts = [
        UtilityAccount.objects.create(
            number=f"5{i:05d}-00", name=f"Pat Example {i}", service_address="Kent", balance=D(1)
        )
        for i in range(30)
    ]
    index_bulk_upsert(utility_index_rows(accounts))
    assert len(payer_search("pat example")) == 20
    assert len(payer_search("pat example", limit=5)) == 5
    assert len(payer_search("50001")) == 10


def test_like_wildcards_are_plain_text(index):
    assert payer_index_search("%%") == []
    assert payer_index_search("__") == []
    assert payer_index_search("   ") == []


def test_one_index_query_then_one_query_per_kind(index, django_assert_num_queries):
    with django_assert_num_queries(3):  # index, utility accounts, invoices
        hits = payer_search("98032")
    assert {hit.kind for hit in hits} == {"utility", "invoice"}
    with django_assert_num_queries(2):
        payer_search("garcia")
    with django_assert_num_queries(1):
        assert payer_search("zzzz qqqq") == []


# ----------------------------------------------------------------------------- view


def test_lookup_page_and_htmx_fragment(client_for, cashier, index):
    client = client_for(cashier)
    page = client.get(reverse("cashiering:lookup"), {"q": "jon smth"})
    html = page.content.decode()
    assert "<html" in html and "John Smith" in html and "84.50" in html
    assert "Account details" in html  # links to the inquiry page
    fragment = client.get(
        reverse("cashiering:lookup"), {"q": "jon smth", "mode": "receipt"}, HTTP_HX_REQUEST="true"
    )
    html = fragment.content.decode()
    assert "<html" not in html
    assert 'data-q="jon smth"' in html
    assert 'role="option"' in html and 'data-kind="utility" data-ref="100007-23"' in html


def test_lookup_offers_to_take_a_payment_in_the_open_session(client_for, cashier, index):
    from cashiering.models import Drawer
    from cashiering.services.sessions import session_open
    from tests.factories import TODAY, business_day

    with business_day(TODAY):
        session = session_open(
            cashier=cashier,
            drawer=Drawer.objects.get(code="D1"),
            business_date=TODAY,
            opening_count={},
        )
    html = client_for(cashier).get(reverse("cashiering:lookup"), {"q": "garcia"}).content.decode()
    assert reverse("cashiering:receipt-new", args=[session.pk]) + "?add=utility:100014-05" in html


def test_lookup_refuses_a_card_number(client_for, cashier, index, django_assert_max_num_queries):
    response = client_for(cashier).get(reverse("cashiering:lookup"), {"q": "4111111111111111"})
    html = response.content.decode()
    assert CARD_NUMBER_MESSAGE.split(".")[0] in html
    assert "4111111111111111" not in html
    assert response.context["results"] == []


def test_lookup_says_when_nothing_matches(client_for, cashier, index):
    html = client_for(cashier).get(reverse("cashiering:lookup"), {"q": "zzzz"}).content.decode()
    assert "Nothing matches" in html


def test_lookup_view_query_count(client_for, cashier, index, django_assert_max_num_queries):
    client = client_for(cashier)
    client.get(reverse("cashiering:lookup"), {"q": "kent", "mode": "receipt"})
    # Signing in, permissions and the sliding session take 7; the search 1 + 1 per kind
    # (utility accounts, invoices and the "Kent wear" fee item).
    with django_assert_max_num_queries(11):
        client.get(
            reverse("cashiering:lookup"), {"q": "kent", "mode": "receipt"}, HTTP_HX_REQUEST="true"
        )
