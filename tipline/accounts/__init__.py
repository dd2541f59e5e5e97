"""Staff accounts: creating and changing them, signing in, and the editor's key in the session.

Apart from the staff pages (tipline/triage/), which use it: the pages decide
what an editor sees, this package decides who the editor is and holds the
private key that lets them read.
"""
