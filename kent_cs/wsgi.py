"""The WSGI application (granian serves `kent_cs.wsgi:application`).

The URL configuration, with every view module, is imported and its patterns compiled here,
while the worker starts, rather than by each worker's first requests (as is psycopg's
connection pool, which Django imports at its first connection): otherwise the first
cashiers a fresh worker serves wait the better part of a second for the imports.

A request's environ holds the request alone. granian, like the standard library's
wsgiref (runserver), starts every environ from a copy of the process's environment, which
holds DATABASE_URL with its password and DJANGO_SECRET_KEY; Django would carry them in
`request.META`, where error reports and debugging code print it. `request_only` leaves
them out (and with them a client's `Proxy:` header when the process has HTTP_PROXY set).
"""

import os

import psycopg_pool  # noqa: F401 -- see above
from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

# What a server sets for each request, whatever the process's environment holds.
REQUEST_KEYS = frozenset(
    {
        "REQUEST_METHOD",
        "SCRIPT_NAME",
        "PATH_INFO",
        "QUERY_STRING",
        "CONTENT_TYPE",
        "CONTENT_LENGTH",
        "SERVER_NAME",
        "SERVER_PORT",
        "SERVER_PROTOCOL",
        "REMOTE_ADDR",
        "REMOTE_PORT",
    }
)


def request_only(app, process_environment=None):
    """`app` given environs without the keys that came from the process's environment."""
    process_keys = frozenset(
        os.environ if process_environment is None else process_environment
    ).difference(REQUEST_KEYS)

    def serve(environ, start_response):
        if process_keys.isdisjoint(environ):
            return app(environ, start_response)
        return app(
            {key: value for key, value in environ.items() if key not in process_keys},
            start_response,
        )

    return serve


os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kent_cs.settings")
application = request_only(get_wsgi_application())
get_resolver().reverse_dict  # noqa: B018 -- imports the views, compiles the patterns
