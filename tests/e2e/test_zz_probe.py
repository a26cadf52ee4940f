import time
from django.core.management import call_command
def test_probe(live_server, settings):
    settings.DEMO_MODE = True
    t = time.time()
    call_command("seed_demo")
    print("SEED", time.time() - t)
