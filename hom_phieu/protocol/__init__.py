"""The device↔server protocol (``docs/sync-protocol.md``): what both sides must agree on.

The documents as typed models (``models``, with the configuration in ``configuration``
and the strict field readers in ``fields``), request signing and its headers, the
server's signatures on acks and configurations, and their checks (``signing``). The
kiosk's sync client and the server's API import it; neither imports the other.
"""
