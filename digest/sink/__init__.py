"""Sink: a port and a folder in; an aiosmtpd server that stores every message it receives in a
Maildir, and a web view that shows each message with its checks. Imports only the vocabulary."""
