"""The audit chain's URLs."""

from django.urls import path

from audit import views_chain

urlpatterns = [
    path("chain/", views_chain.chain, name="chain"),
    path("chain/digest/", views_chain.digest_write, name="chain-digest-write"),
    path("chain/digest.csv", views_chain.digest_csv, name="chain-digest-csv"),
    path("chain/digest.pdf", views_chain.digest_pdf, name="chain-digest-pdf"),
    path("chain/digest/print/", views_chain.digest_print, name="chain-digest-print"),
]
