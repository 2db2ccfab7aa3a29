"""Speech output for patrons who cannot see the screen (EN 301 549 5.1.3), by espeak-ng.

`[kiosk] speech = "speaker" | "headphones"` switches it on: after each scan the page plays
a tone and the outcome in the screen's language. `views.init_app` hooks it into the app.
"""
