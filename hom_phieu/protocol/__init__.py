"""The device↔server protocol (``docs/sync-protocol.md``): what both sides must agree on.

Request signing and its headers, the server's signatures on acks and configurations, and
their checks. The kiosk's sync client and the server's API import it; neither imports the
other.
"""
