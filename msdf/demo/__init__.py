"""The end-to-end demo (``msdf demo``): data → store → model → shapes → metrics → ``report.html``."""
