"""The WSGI application (gunicorn serves `kent_cs.wsgi`).

The URL configuration, with every view module, is imported and its patterns compiled here,
while the worker starts, rather than by each worker's first requests (as is psycopg's
connection pool, which Django imports at its first connection): otherwise the first
cashiers a fresh worker serves wait the better part of a second for the imports.
"""

import os

import psycopg_pool  # noqa: F401 -- see above
from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kent_cs.settings")
application = get_wsgi_application()
get_resolver().reverse_dict  # noqa: B018 -- imports the views, compiles the patterns
