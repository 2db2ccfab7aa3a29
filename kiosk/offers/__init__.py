"""The library's digital offers on the idle screen: e-books, podcast, streamed events,
language cafés — from the configuration and from RSS, Atom, iCalendar or JSON feeds.
"""
