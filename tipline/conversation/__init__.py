"""Sources come back: the receipt passphrase, the source's key, messages both ways.

A core package (like ``sealed`` and ``keyring``): the source side (intake's
check-back pages) and the staff side (the tip page's conversation) both build
on it and never on each other. docs/crypto.md, "Sources come back", has the
keys and their reasoning.
"""
