"""Access rules for a business's license history dossier: whoever reads licensing's
records and payments (technicians, supervisors, administrators); cashiers see the
license history on the account inquiry, not the dossier."""

from tests.url_rules._base import Rule, pk_of

DOSSIER_READERS = {"technician", "supervisor", "admin"}

RULES = {
    "licensing:business-dossier-print": Rule(DOSSIER_READERS, kwargs=pk_of("business")),
    "licensing:business-dossier-pdf": Rule(DOSSIER_READERS, kwargs=pk_of("business")),
    "licensing:business-dossier-xlsx": Rule(DOSSIER_READERS, kwargs=pk_of("business")),
}
