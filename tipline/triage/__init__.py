"""The staff side: editors' accounts and keys, the inbox, the tip page, the audit log."""
