"""The Content-Security-Policy header, built once per process where a response needs no nonce.

Django's middleware builds the header from SECURE_CSP for every response. A response whose
page never asked for the nonce (a redirect after a post, a JSON answer, an htmx fragment
without inline code) gets the same text each time, so it is built once per policy and
reused. A response that used the nonce gets its own header, built as Django builds it.
"""

import copy

from django.conf import settings
from django.middleware import csp
from django.utils.csp import CSP, build_policy


class ContentSecurityPolicyMiddleware(csp.ContentSecurityPolicyMiddleware):
    def __init__(self, get_response) -> None:
        super().__init__(get_response)
        # id(policy) -> (policy, a copy of it, header): the policy is kept so that its id
        # stays its own, and the copy tells when it was changed in place.
        self._headers: dict[int, tuple[dict, dict, str]] = {}

    def process_response(self, request, response):
        nonce = csp.get_nonce(request)
        if nonce:  # the page used it: the header names this response's nonce
            return super().process_response(request, response)
        sentinel = object()
        if (config := getattr(response, "_csp_config", sentinel)) is sentinel:
            config = settings.SECURE_CSP
        if (report_only := getattr(response, "_csp_ro_config", sentinel)) is sentinel:
            report_only = settings.SECURE_CSP_REPORT_ONLY
        for header, policy in ((CSP.HEADER_ENFORCE, config), (CSP.HEADER_REPORT_ONLY, report_only)):
            # As Django's: a header the view set stays; an empty policy sends none.
            if policy and header not in response:
                response.headers[str(header)] = self._header(policy)
        return response

    def _header(self, policy: dict) -> str:
        cached = self._headers.get(id(policy))
        if cached is None or cached[0] is not policy or cached[1] != policy:
            header = build_policy(policy)
            cached = self._headers[id(policy)] = (policy, copy.deepcopy(policy), header)
        return cached[2]
