"""Settings for bench/bench_portal.py: the project's own, plus a bare view to compare against."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.portal_urls"
