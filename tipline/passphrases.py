"""The rule every passphrase the tip line asks an admin to choose must meet.

One place for it, so the recovery key page and the command line ask the same.
The recovery key file is sealed with a costly Argon2id, but it is also the one
file that opens every tip: a short passphrase is refused outright.
"""

MIN_PASSPHRASE_CHARS = 12
