"""The Content-Security-Policy header, built once per process where a response needs no nonce.

Django's middleware builds the header from SECURE_CSP for every response. A response whose
page never asked for the nonce (a redirect after a post, a JSON answer, an htmx fragment
without inline code) gets the same text each time, so that text is built once per process
from the settings and reused. A response that used the nonce, or that carries a view's own
policy, gets its header built as Django builds it.
"""

import copy

from django.conf import settings
from django.middleware import csp
from django.utils.csp import CSP, build_policy


class ContentSecurityPolicyMiddleware(csp.ContentSecurityPolicyMiddleware):
    def __init__(self, get_response) -> None:
        super().__init__(get_response)
        # setting name -> (the policy, a copy of it, its header): the policy is kept so that
        # a replaced setting is noticed, the copy so that one changed in place is.
        self._headers: dict[str, tuple[dict, dict, str]] = {}

    def process_response(self, request, response):
        if (
            csp.get_nonce(request)  # the page used it: the header names this response's nonce
            or hasattr(response, "_csp_config")  # a view's own policy (Django's decorators)
            or hasattr(response, "_csp_ro_config")
        ):
            return super().process_response(request, response)
        for header, name in (
            (CSP.HEADER_ENFORCE, "SECURE_CSP"),
            (CSP.HEADER_REPORT_ONLY, "SECURE_CSP_REPORT_ONLY"),
        ):
            # As Django's: a header the view set stays; an empty policy sends none.
            if (policy := getattr(settings, name)) and header not in response:
                response.headers[str(header)] = self._header(name, policy)
        return response

    def _header(self, name: str, policy: dict) -> str:
        cached = self._headers.get(name)
        if cached is None or cached[0] is not policy or cached[1] != policy:
            cached = self._headers[name] = (policy, copy.deepcopy(policy), build_policy(policy))
        return cached[2]
